import { ConnectAdmission } from './connect-admission';

describe('ConnectAdmission', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 0));

  it('admits a burst, then refuses until tokens come back at the rate', () => {
    const a = new ConnectAdmission({ ratePerSecond: 10, burst: 5, maxHandshakes: 100 }, clock);
    for (let i = 0; i < 5; i++) expect(a.admit()).toEqual({ ok: true });
    expect(a.admit()).toMatchObject({ ok: false, reason: 'connect-rate' });
    now += 100; // 10/s: one token after 100 ms
    expect(a.admit().ok).toBe(true);
    expect(a.admit().ok).toBe(false);
    now += 10_000; // a long quiet time refills only up to the burst
    let n = 0;
    while (a.admit().ok) n++;
    expect(n).toBe(5);
  });

  it('refuses while too many handshakes are in progress, and admits again as they settle', () => {
    const a = new ConnectAdmission({ ratePerSecond: 1000, burst: 1000, maxHandshakes: 3 }, clock);
    expect([a.admit().ok, a.admit().ok, a.admit().ok]).toEqual([true, true, true]);
    expect(a.admit()).toMatchObject({ ok: false, reason: 'handshakes-in-progress' });
    expect(a.handshakesInProgress).toBe(3);
    a.settled();
    expect(a.admit().ok).toBe(true);
    a.settled();
    a.settled();
    a.settled();
    a.settled(); // one too many: never below zero
    expect(a.handshakesInProgress).toBe(0);
  });

  it('a refusal for the handshake limit spends no token', () => {
    const a = new ConnectAdmission({ ratePerSecond: 1, burst: 2, maxHandshakes: 1 }, clock);
    expect(a.admit().ok).toBe(true);
    for (let i = 0; i < 10; i++) expect(a.admit()).toMatchObject({ reason: 'handshakes-in-progress' });
    a.settled();
    expect(a.admit().ok).toBe(true); // the second token of the burst is still there
  });

  it('rejects nonsensical limits', () => {
    expect(() => new ConnectAdmission({ ratePerSecond: 0, burst: 1, maxHandshakes: 1 })).toThrow(/positive rate/);
    expect(() => new ConnectAdmission({ ratePerSecond: 1, burst: 0, maxHandshakes: 1 })).toThrow();
  });
});
