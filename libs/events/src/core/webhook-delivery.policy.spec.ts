import fc from 'fast-check';
import { ReceiverBreakers, afterFailure, maxAttempts, receiverOf, retryDelayMs } from './webhook-delivery.policy';

const S = { baseMs: 1000, maxMs: 10_000, horizonMs: 60_000 };

describe('webhook delivery policy', () => {
  it('backs off exponentially with a cap, the jitter within ±25 %', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, S, () => 0.5))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (n, r) => {
        const d = retryDelayMs(n, S, () => r);
        const exp = Math.min(S.maxMs, S.baseMs * 2 ** (n - 1));
        return d >= Math.floor(exp * 0.75) && d <= Math.ceil(exp * 1.25);
      }),
    );
  });

  it('dead-letters a delivery whose next attempt would fall past the horizon', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const expires = new Date(now.getTime() + 5000);
    expect(afterFailure(1, expires, now, S, () => 0.5)).toEqual({ status: 'pending', nextAttemptAt: new Date(now.getTime() + 1000) });
    expect(afterFailure(4, expires, now, S, () => 0.5)).toEqual({ status: 'dead' });
  });

  it('the default schedule (1 s doubling to 30 min, 8 h) gives a bounded number of attempts', () => {
    const n = maxAttempts({ baseMs: 1000, maxMs: 1_800_000, horizonMs: 8 * 3600_000 });
    expect(n).toBeGreaterThan(15);
    expect(n).toBeLessThan(40);
  });

  it('opens after N consecutive failures, lets one probe through after the open time, closes on success', () => {
    const b = new ReceiverBreakers({ failures: 3, openMs: 1000, maxOpenMs: 8000 });
    const r = 'https://a.example';
    for (let i = 0; i < 2; i++) b.failure(r, 0);
    expect(b.admit(r, 0)).toBe(true);
    b.failure(r, 0);
    expect(b.state(r, 1)).toBe('open');
    expect(b.admit(r, 500)).toBe(false);
    expect(b.blocked(500)).toEqual([r]);
    expect(b.admit(r, 1000)).toBe(true); // the probe
    expect(b.admit(r, 1000)).toBe(false); // only one
    b.failure(r, 1000);
    expect(b.admit(r, 2500)).toBe(false); // open for twice as long now
    expect(b.admit(r, 3000)).toBe(true);
    b.success(r);
    expect(b.state(r)).toBe('closed');
    expect(b.blocked()).toEqual([]);
  });

  it('a receiver is the URL origin', () => {
    expect(receiverOf('https://Ops.Example.com:443/a?b')).toBe('https://ops.example.com');
    expect(receiverOf('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080');
  });
});
