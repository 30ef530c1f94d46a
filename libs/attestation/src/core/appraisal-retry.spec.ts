import { retryDelayMs } from './appraisal-retry';

describe('retryDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    const fixed = { baseMs: 1000, maxMs: 60_000, random: () => 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => retryDelayMs(a, fixed))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(retryDelayMs(10_000, fixed)).toBe(60_000);
  });

  it('jitters by at most 20 % downwards, never below 1 ms', () => {
    expect(retryDelayMs(1, { baseMs: 1000, random: () => 0.999 })).toBeGreaterThanOrEqual(800);
    expect(retryDelayMs(1, { baseMs: 1000, random: () => 0.999 })).toBeLessThan(1000);
    expect(retryDelayMs(0, { baseMs: 1, random: () => 1 })).toBe(1);
  });
});
