import { CoalescedBatches } from './coalesced-batches';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder(windowMs: number, maxBatch = 100, work?: (batch: Array<[string, number]>) => Promise<void>) {
  const batches: Array<Array<[string, number]>> = [];
  const errors: Array<{ e: unknown; size: number }> = [];
  let running = 0;
  let overlapped = false;
  const q = new CoalescedBatches<string, number>({
    windowMs,
    maxBatch,
    run: async (batch) => {
      running++;
      if (running > 1) overlapped = true;
      batches.push(batch);
      try {
        await (work ? work(batch) : sleep(5));
      } finally {
        running--;
      }
    },
    onError: (e, size) => errors.push({ e, size }),
  });
  const add = (key: string) => q.add(key, (n) => (n ?? 0) + 1);
  return { q, add, batches, errors, overlapped: () => overlapped };
}

describe('CoalescedBatches', () => {
  it('gathers keys for the window, merges a repeated key into its entry, and runs them as one batch', async () => {
    const { add, batches } = recorder(40);
    add('a');
    add('b');
    add('a');
    await sleep(15);
    expect(batches).toHaveLength(0); // still gathering
    add('c');
    await sleep(60);
    expect(batches).toEqual([
      [
        ['a', 2],
        ['b', 1],
        ['c', 1],
      ],
    ]);
  });

  it('runs one batch at a time: keys added while one runs go into the next', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = recorder(10, 100, async (batch) => {
      if (batch[0][0] === 'a') await gate;
    });
    t.add('a');
    await sleep(25);
    expect(t.batches).toHaveLength(1);
    t.add('a'); // the same key again, while its first batch runs: a new entry
    t.add('b');
    await sleep(30);
    expect(t.batches).toHaveLength(1); // waits for the running batch
    release();
    await sleep(40);
    expect(t.batches).toEqual([[['a', 1]], [['a', 1], ['b', 1]]]);
    expect(t.overlapped()).toBe(false);
  });

  it('does not wait for the window once maxBatch keys wait, and splits larger sets', async () => {
    const { q, add, batches } = recorder(10_000, 3);
    for (const k of ['a', 'b', 'c', 'd']) add(k);
    await sleep(50);
    expect(batches.map((b) => b.map(([k]) => k))).toEqual([['a', 'b', 'c']]);
    expect(q.size).toBe(1); // 'd' alone waits for its window
    await q.flush();
    expect(batches.map((b) => b.map(([k]) => k))).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('flush() runs what is gathering now and waits for the batch that runs', async () => {
    const { q, add, batches } = recorder(10_000, 2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) add(k);
    await q.flush();
    expect(batches.map((b) => b.map(([k]) => k))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(q.size).toBe(0);
  });

  it('hands a failing batch to onError and goes on with the next', async () => {
    const t = recorder(5, 100, async (batch) => {
      if (batch.some(([k]) => k === 'bad')) throw new Error('statement failed');
    });
    t.add('bad');
    t.add('x');
    await sleep(30);
    t.add('good');
    await sleep(30);
    expect(t.errors).toEqual([{ e: new Error('statement failed'), size: 2 }]);
    expect(t.batches.map((b) => b.map(([k]) => k))).toEqual([['bad', 'x'], ['good']]);
  });

  it('with a window of 0 a lone key runs at once', async () => {
    const { add, batches } = recorder(0);
    add('a');
    await sleep(10);
    expect(batches).toEqual([[['a', 1]]]);
  });
});
