import fc from 'fast-check';
import { checkRollback, nextDeviceCounter } from './anti-rollback.rules';
import { outcomeOf } from './testing/firmware-samples';

const verdict = (r: ReturnType<typeof checkRollback>) => (r.ok ? 'ok' : r.reason);

describe('checkRollback', () => {
  it.each([
    [5, 5, 5, 'ok'],
    [6, 5, null, 'ok'],
    [4, 5, null, 'below-product-minimum'],
    [4, 5, 9, 'below-product-minimum'],
    [7, 5, 8, 'below-device-last-seen'],
    [8, 5, 8, 'ok'],
    [0, null, null, 'ok'],
    [0, 0, 0, 'ok'],
    [null, null, null, 'ok'],
    [null, 0, 0, 'ok'],
    [null, 1, null, 'missing-counter'],
    [null, null, 3, 'missing-counter'],
  ])('reported %p, product minimum %p, device last seen %p: %s', (reportedCounter, productMinimum, deviceLastSeen, expected) => {
    expect(verdict(checkRollback({ reportedCounter, productMinimum, deviceLastSeen }))).toBe(expected);
  });

  it('treats absent floors as none', () => {
    expect(checkRollback({ reportedCounter: 3 })).toEqual({ ok: true });
  });

  it('refuses counters outside 0..2^32-1 with a DomainError', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN, Infinity, '3' as unknown as number]) {
      expect(outcomeOf(() => checkRollback({ reportedCounter: bad }))).toBe('rollback.invalid-counter');
      expect(outcomeOf(() => checkRollback({ reportedCounter: 1, productMinimum: bad }))).toBe('rollback.invalid-counter');
      expect(outcomeOf(() => checkRollback({ reportedCounter: 1, deviceLastSeen: bad }))).toBe('rollback.invalid-counter');
    }
  });

  it('passes exactly when the counter reaches both floors, and names the product floor first', () => {
    const counter = fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: null });
    fc.assert(
      fc.property(counter, counter, counter, (reported, minimum, lastSeen) => {
        const r = checkRollback({ reportedCounter: reported, productMinimum: minimum, deviceLastSeen: lastSeen });
        const floor = Math.max(minimum ?? 0, lastSeen ?? 0);
        expect(r.ok).toBe(reported === null ? floor === 0 : reported >= floor);
        if (!r.ok && reported !== null && minimum !== null && reported < minimum) expect(r.reason).toBe('below-product-minimum');
      }),
    );
  });
});

describe('nextDeviceCounter', () => {
  it('never goes down', () => {
    const counter = fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: null });
    fc.assert(
      fc.property(counter, counter, (lastSeen, reported) => {
        const next = nextDeviceCounter(lastSeen, reported);
        if (lastSeen !== null) expect(next).toBeGreaterThanOrEqual(lastSeen);
        if (reported !== null) expect(next).toBeGreaterThanOrEqual(reported);
        expect(next === null).toBe(lastSeen === null && reported === null);
      }),
    );
  });
});
