/**
 * How often a repeated line is written: the first of a kind at once, then at most one per
 * `windowMs`, saying how many of that kind were left out since the last one written. A reconnect
 * storm refuses tens of thousands of connections for the same reason within a minute; the
 * counters (`fleetguard_mqtt_rejections_total`) keep the exact numbers, the log a readable trace.
 */
export class RepeatThrottle {
  private readonly last = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: () => number = () => performance.now(),
    /** Kinds remembered at most (beyond it the oldest is forgotten, so a new kind is written at once). */
    private readonly maxKinds = 1000,
  ) {}

  /** null: leave this one out; otherwise write it, noting `skipped` left out before it. */
  admit(kind: string): { skipped: number } | null {
    const now = this.clock();
    const seen = this.last.get(kind);
    if (seen && now - seen.at < this.windowMs) {
      seen.skipped++;
      return null;
    }
    const skipped = seen?.skipped ?? 0;
    if (seen) this.last.delete(kind);
    else if (this.last.size >= this.maxKinds) this.last.delete(this.last.keys().next().value!);
    this.last.set(kind, { at: now, skipped: 0 });
    return { skipped };
  }
}
