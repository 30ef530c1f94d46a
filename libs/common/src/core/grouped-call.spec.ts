import { GroupedCall } from './grouped-call';

/** A statement the test finishes by hand: each run is recorded with its items and its own deferred answer. */
function manualRunner() {
  const runs: Array<{ items: string[]; finish(): void; fail(e: Error): void }> = [];
  const run = (items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      runs.push({ items, finish: () => resolve(items.map((x) => `done:${x}`)), fail: reject });
    });
  return { runs, run };
}

const turn = () => new Promise((r) => setImmediate(r));
const keyOf = (x: string) => [x.split('#')[0]];

describe('GroupedCall', () => {
  it('sends a lone call at once and groups what comes while it runs into the next statement', async () => {
    const { runs, run } = manualRunner();
    const g = new GroupedCall<string, string>(run);
    const a = g.call('a');
    await turn();
    expect(runs.map((r) => r.items)).toEqual([['a']]);
    const b = g.call('b');
    const c = g.call('c');
    await turn();
    expect(runs).toHaveLength(1); // one in flight by default
    runs[0].finish();
    await expect(a).resolves.toBe('done:a');
    await turn();
    expect(runs[1].items).toEqual(['b', 'c']);
    runs[1].finish();
    await expect(Promise.all([b, c])).resolves.toEqual(['done:b', 'done:c']);
  });

  it('puts an item whose key is taken into a later group, and caps a group at max', async () => {
    const { runs, run } = manualRunner();
    const g = new GroupedCall<string, string>(run, keyOf, 2);
    const all = ['d1#x', 'd1#y', 'd2#x', 'd3#x'].map((x) => g.call(x));
    await turn();
    expect(runs[0].items).toEqual(['d1#x', 'd2#x']);
    runs[0].finish();
    await turn();
    expect(runs[1].items).toEqual(['d1#y', 'd3#x']);
    runs[1].finish();
    await expect(Promise.all(all)).resolves.toHaveLength(4);
  });

  it('runs up to inFlight groups at once, never with one key in two of them', async () => {
    const { runs, run } = manualRunner();
    const g = new GroupedCall<string, string>(run, keyOf, 256, 2);
    const first = g.call('d1#a');
    await turn();
    const second = [g.call('d1#b'), g.call('d2#a')];
    await turn();
    // d1 is in flight: the second group goes without it
    expect(runs.map((r) => r.items)).toEqual([['d1#a'], ['d2#a']]);
    const third = g.call('d3#a');
    await turn();
    expect(runs).toHaveLength(2); // both places taken
    runs[1].finish();
    await expect(second[1]).resolves.toBe('done:d2#a');
    await turn();
    // d1 still in flight: only d3 goes
    expect(runs[2].items).toEqual(['d3#a']);
    runs[0].finish();
    await expect(first).resolves.toBe('done:d1#a');
    await turn();
    expect(runs[3].items).toEqual(['d1#b']);
    runs[2].finish();
    runs[3].finish();
    await expect(Promise.all([second[0], third])).resolves.toEqual(['done:d1#b', 'done:d3#a']);
  });

  it('fails every call of a failed group and only those; the keys are free again afterwards', async () => {
    const { runs, run } = manualRunner();
    const g = new GroupedCall<string, string>(run, keyOf, 256, 2);
    const a = g.call('d1#a');
    await turn();
    const b = g.call('d2#a');
    await turn();
    runs[0].fail(new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    const again = g.call('d1#b');
    await turn();
    expect(runs[2].items).toEqual(['d1#b']);
    runs[1].finish();
    runs[2].finish();
    await expect(Promise.all([b, again])).resolves.toEqual(['done:d2#a', 'done:d1#b']);
  });
});
