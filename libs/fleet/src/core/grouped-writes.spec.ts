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
