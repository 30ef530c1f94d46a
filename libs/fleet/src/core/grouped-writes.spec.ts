import { GroupedCalls } from './grouped-writes';

describe('GroupedCalls', () => {
  it('hands calls made in one turn of the loop to one flush, results in order', async () => {
    const flushed: number[][] = [];
    const g = new GroupedCalls<number, number>(async (xs) => {
      flushed.push(xs);
      return xs.map((x) => x * 2);
    });
    const out = await Promise.all([1, 2, 3, 4].map((x) => g.run(x)));
    expect(out).toEqual([2, 4, 6, 8]);
    expect(flushed).toEqual([[1, 2, 3, 4]]);
    expect(g.stats).toEqual({ groups: 1, calls: 4, largest: 4 });
  });

  it('never groups more than maxSize', async () => {
    const sizes: number[] = [];
    const g = new GroupedCalls<number, number>(async (xs) => (sizes.push(xs.length), xs), 3);
    await Promise.all(Array.from({ length: 8 }, (_, i) => g.run(i)));
    expect(sizes).toEqual([3, 3, 2]);
  });

  it('retries each input alone when the group fails: one bad input fails only its own call', async () => {
    const g = new GroupedCalls<number, number>(async (xs) => {
      if (xs.includes(13)) throw new Error('bad row 13');
      return xs;
    });
    const results = await Promise.allSettled([1, 13, 2].map((x) => g.run(x)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad row 13');
  });

  it('refuses a flush that returns the wrong number of results', async () => {
    const g = new GroupedCalls<number, number>(async () => []);
    await expect(g.run(1)).rejects.toThrow('0 results for 1');
  });
});

describe('GroupedCalls with maxInFlight', () => {
  it('gathers the calls made while a group is in flight into the next group', async () => {
    const flushed: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupedCalls<number, number>(
      async (xs) => {
        flushed.push(xs);
        if (flushed.length === 1) await gate;
        return xs;
      },
      64,
      1,
    );
    const first = g.run(0);
    await new Promise((r) => setImmediate(r));
    expect(flushed).toEqual([[0]]);
    // Arriving over several turns while the first group is out: they wait, then go as one group.
    const later: Array<Promise<number>> = [];
    for (let i = 1; i <= 5; i++) {
      later.push(g.run(i));
      await new Promise((r) => setImmediate(r));
    }
    expect(flushed).toEqual([[0]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(flushed).toEqual([[0], [1, 2, 3, 4, 5]]);
    expect(g.stats).toEqual({ groups: 2, calls: 6, largest: 5 });
  });

  it('still flushes at most maxSize a group, one group at a time', async () => {
    let out = 0;
    let most = 0;
    const sizes: number[] = [];
    const g = new GroupedCalls<number, number>(
      async (xs) => {
        out++;
        most = Math.max(most, out);
        sizes.push(xs.length);
        await new Promise((r) => setTimeout(r, 5));
        out--;
        return xs;
      },
      4,
      1,
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => g.run(i)));
    expect(most).toBe(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBe(4);
  });

  it('refuses a maxInFlight that is not a positive integer', () => {
    expect(() => new GroupedCalls<number, number>(async (xs) => xs, 4, 0)).toThrow(RangeError);
  });
});
