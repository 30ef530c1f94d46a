/**
 * Grouped writes: the calls made while the event loop is busy with other requests are gathered
 * and handed to `flush` together (one SQL statement for many enrollments instead of one each),
 * at the latest on the next turn of the loop (setImmediate) or when `maxSize` are waiting.
 *
 * `flush` returns one result per input, in order. When the grouped call fails (a bad row fails
 * the whole statement), each input is retried alone, so one request's error is only its own.
 */
export class GroupedCalls<I, O> {
  private pending: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  /** Sizes of the groups flushed so far (for tests and the benchmark). */
  readonly stats = { groups: 0, calls: 0, largest: 0 };

  constructor(
    private readonly flush: (inputs: I[]) => Promise<O[]>,
    private readonly maxSize = 64,
  ) {
    if (!(Number.isInteger(maxSize) && maxSize >= 1)) throw new RangeError('maxSize must be a positive integer');
  }

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize) this.drain();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  private drain(): void {
    this.scheduled = false;
    const group = this.pending.splice(0, this.maxSize);
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
    if (!group.length) return;
    this.stats.groups++;
    this.stats.calls += group.length;
    this.stats.largest = Math.max(this.stats.largest, group.length);
    void this.flushGroup(group);
  }

  private async flushGroup(group: GroupedCalls<I, O>['pending']): Promise<void> {
    try {
      const out = await this.flush(group.map((g) => g.input));
      if (out.length !== group.length) throw new Error(`grouped call returned ${out.length} results for ${group.length} inputs`);
      group.forEach((g, i) => g.resolve(out[i]));
    } catch (e) {
      if (group.length === 1) return group[0].reject(e);
      await Promise.all(
        group.map(async (g) => {
          try {
            const [one] = await this.flush([g.input]);
            g.resolve(one);
          } catch (err) {
            g.reject(err);
          }
        }),
      );
    }
  }
}
