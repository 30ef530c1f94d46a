/**
 * Grouped writes: the calls made while the event loop is busy with other requests are gathered
 * and handed to `flush` together (one SQL statement for many enrollments instead of one each),
 * at the latest on the next turn of the loop (setImmediate) or when `maxSize` are waiting.
 *
 * At most `maxInFlight` groups are being flushed at once: calls that arrive meanwhile wait and
 * go together in the next group when one finishes. Under load the groups grow with the load (the
 * database round trips are paid once per group), while a lone call still goes out on the next
 * turn of the loop.
 *
 * `flush` returns one result per input, in order. When the grouped call fails (a bad row fails
 * the whole statement), each input is retried alone, so one request's error is only its own.
 */
export class GroupedCalls<I, O> {
  private pending: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;
  /** Sizes of the groups flushed so far (for tests and the benchmark). */
  readonly stats = { groups: 0, calls: 0, largest: 0 };

  constructor(
    private readonly flush: (inputs: I[]) => Promise<O[]>,
    private readonly maxSize = 64,
    private readonly maxInFlight = Infinity,
  ) {
    if (!(Number.isInteger(maxSize) && maxSize >= 1)) throw new RangeError('maxSize must be a positive integer');
    if (!(maxInFlight === Infinity || (Number.isInteger(maxInFlight) && maxInFlight >= 1))) throw new RangeError('maxInFlight must be a positive integer or Infinity');
  }

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize) this.drain(false);
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || !this.pending.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain(true);
    });
  }

  /** Flushes full groups while fewer than maxInFlight are out; at the end of a turn (`endOfTurn`) a partial one too. */
  private drain(endOfTurn: boolean): void {
    while (this.pending.length && this.inFlight < this.maxInFlight && (endOfTurn || this.pending.length >= this.maxSize)) {
      const group = this.pending.splice(0, this.maxSize);
      this.stats.groups++;
      this.stats.calls += group.length;
      this.stats.largest = Math.max(this.stats.largest, group.length);
      this.inFlight++;
      void this.flushGroup(group).finally(() => {
        this.inFlight--;
        this.schedule();
      });
    }
    // What is left goes on a later turn (or when a group in flight is done).
    if (this.pending.length && this.inFlight < this.maxInFlight) this.schedule();
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
