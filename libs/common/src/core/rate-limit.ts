/**
 * Token buckets per key (per device): `ratePerMinute` tokens a minute, up to `burst` saved. The
 * map is bounded (`maxKeys`): full buckets are the default state, so forgetting the least
 * recently used key only ever forgives a little, and a flood of new keys cannot grow memory.
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerMinute: number,
    readonly burst: number,
    private readonly maxKeys = 100_000,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(ratePerMinute > 0) || !(burst >= 1)) throw new Error('rate limit needs a positive rate and a burst of at least 1');
  }

  /** Takes one token for `key`; false (nothing taken) when the bucket is empty. */
  take(key: string): boolean {
    const now = this.clock();
    const b = this.buckets.get(key);
    let tokens = this.burst;
    if (b) {
      tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 60_000) * this.ratePerMinute);
      this.buckets.delete(key); // re-inserted below: the map's order is least recently used first
    } else if (this.buckets.size >= this.maxKeys) {
      this.buckets.delete(this.buckets.keys().next().value as string);
    }
    const ok = tokens >= 1;
    this.buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: now });
    return ok;
  }

  /** Seconds until `key` has a token again (for Retry-After). */
  retryAfterSeconds(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.burst, b.tokens + ((this.clock() - b.at) / 60_000) * this.ratePerMinute);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 60) / this.ratePerMinute);
  }

  get size(): number {
    return this.buckets.size;
  }
}
