import { KeyedRateLimiter } from './rate-limit';

describe('KeyedRateLimiter', () => {
  it('allows the burst, then one token per 60/rate seconds, per key', () => {
    let now = 0;
    const l = new KeyedRateLimiter(60, 3, 100, () => now);
    expect([l.take('a'), l.take('a'), l.take('a'), l.take('a')]).toEqual([true, true, true, false]);
    expect(l.take('b')).toBe(true);
    expect(l.retryAfterSeconds('a')).toBe(1);
    now += 999;
    expect(l.take('a')).toBe(false);
    now += 2;
    expect(l.take('a')).toBe(true);
    now += 3_600_000;
    expect([l.take('a'), l.take('a'), l.take('a'), l.take('a')]).toEqual([true, true, true, false]);
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const now = 0;
    const l = new KeyedRateLimiter(1, 1, 2, () => now);
    expect(l.take('a')).toBe(true);
    expect(l.take('b')).toBe(true);
    expect(l.take('a')).toBe(false); // a is now the most recent
    expect(l.take('c')).toBe(true); // evicts b
    expect(l.size).toBe(2);
    expect(l.take('a')).toBe(false);
    expect(l.take('b')).toBe(true); // forgotten, so full again
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new KeyedRateLimiter(0, 1)).toThrow();
    expect(() => new KeyedRateLimiter(1, 0)).toThrow();
  });
});
