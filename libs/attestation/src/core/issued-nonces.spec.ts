import { IssuedNonces } from './issued-nonces';

describe('IssuedNonces', () => {
  const at = (ms: number) => new Date(ms);

  it('answers for a nonce it issued until it is used, then leaves it to the database', () => {
    const n = new IssuedNonces();
    n.remember('n1', 'dev-1', at(10_000));
    expect(n.lookup('n1', 5_000)).toEqual({ deviceId: 'dev-1', expiresAt: at(10_000) });
    n.used('n1');
    expect(n.lookup('n1', 5_000)).toBeUndefined();
    expect(n.lookup('never-issued', 5_000)).toBeUndefined();
  });

  it('does not answer for a nonce past its expiry (the database says expired) and drops it', () => {
    const n = new IssuedNonces();
    n.remember('n1', 'dev-1', at(10_000));
    expect(n.lookup('n1', 10_000)).toBeUndefined();
    expect(n.size).toBe(0);
  });

  it('keeps at most max entries, dropping the oldest first', () => {
    const n = new IssuedNonces(3);
    for (const x of ['a', 'b', 'c', 'd']) n.remember(x, 'dev', at(10_000));
    expect(n.size).toBe(3);
    expect(n.lookup('a', 0)).toBeUndefined();
    expect(['b', 'c', 'd'].map((x) => n.lookup(x, 0)?.deviceId)).toEqual(['dev', 'dev', 'dev']);
    // Remembered again, an entry becomes the newest.
    n.remember('b', 'dev-2', at(20_000));
    n.remember('e', 'dev', at(10_000));
    expect(n.lookup('c', 0)).toBeUndefined();
    expect(n.lookup('b', 0)).toEqual({ deviceId: 'dev-2', expiresAt: at(20_000) });
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new IssuedNonces(0)).toThrow(/positive integer/);
    expect(() => new IssuedNonces(1.5)).toThrow(/positive integer/);
  });
});
