/**
 * Follow-up work by key (a device's rescore after its attestation result, its exposure
 * recompute), gathered for up to `windowMs` after the first key arrives and then run as one
 * batch: a key added again before its batch runs is merged into its pending entry, so it is
 * worked on once. Batches run one at a time; keys that arrive while one runs wait for the next
 * window (or go at once when `maxBatch` of them are waiting).
 *
 * Why a window and not GroupedCall's "whatever arrived while the last one ran": these batches
 * run statements whose fixed cost (parse, plan, round trip, wake-ups) is the larger part at low
 * and moderate rates. With no window, 200 results a second made batches of one device and four
 * statements each, and PostgreSQL spent 3-6 ms of CPU per appraisal, most of it on them
 * (bench:attest; the window's figures are in docs/scale.md). The price is a delay of up to `windowMs` on the follow-up, never on the result.
 *
 * A failing batch is the runner's to report (`run` should not throw; a throw is passed to
 * `onError`). flush() runs everything pending now, for shutdown and for tests.
 */
export class CoalescedBatches<K, V> {
  private readonly pending = new Map<K, V>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly opts: {
      windowMs: number;
      maxBatch: number;
      run: (batch: Array<[K, V]>) => Promise<void>;
      onError: (e: unknown, size: number) => void;
    },
  ) {}

  /** Pending entries (not counting the batch that runs). */
  get size(): number {
    return this.pending.size;
  }

  /** Adds `key`, or merges into its pending entry: `update` gets that entry (undefined if none) and returns the new one. */
  add(key: K, update: (pending: V | undefined) => V): void {
    this.pending.set(key, update(this.pending.get(key)));
    this.schedule();
  }

  /** Runs every pending batch now (and waits for the one running), until none is left. */
  async flush(): Promise<void> {
    for (;;) {
      this.cancelTimer();
      if (this.running) await this.running;
      else if (this.pending.size) await this.runOne();
      else return;
    }
  }

  private schedule(): void {
    if (this.running) return;
    // Full: the batch goes on the next turn, whatever the window had left.
    const full = this.pending.size >= this.opts.maxBatch;
    if (this.timer && !full) return;
    this.cancelTimer();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.runOne();
      },
      full ? 0 : this.opts.windowMs,
    );
    // Shutdown runs flush(); a pending window alone does not keep the process alive.
    this.timer.unref();
  }

  private cancelTimer(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private runOne(): Promise<void> {
    if (this.running) return this.running;
    if (!this.pending.size) return Promise.resolve();
    const batch = [...this.pending].slice(0, this.opts.maxBatch);
    for (const [k] of batch) this.pending.delete(k);
    const run = (async () => {
      try {
        await this.opts.run(batch);
      } catch (e) {
        this.opts.onError(e, batch.length);
      }
    })();
    this.running = run.finally(() => {
      this.running = undefined;
      if (this.pending.size) this.schedule();
    });
    return this.running;
  }
}
