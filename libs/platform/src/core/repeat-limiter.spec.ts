import { RepeatLimiter } from './repeat-limiter';

describe('RepeatLimiter', () => {
  it('lets a burst of one shape through, holds the rest, and says how many at the next window', () => {
    const l = new RepeatLimiter(3, 1000);
    const line = (i: number) => `appraisal of 3f0c2a9e-1111-4222-8333-${String(i).padStart(12, '0')} failed (attempt ${i}): disk full`;
    const written = Array.from({ length: 50 }, (_, i) => l.admit(line(i), 10_000 + i).write).filter(Boolean);
    expect(written).toHaveLength(3);
    const next = l.admit(line(99), 11_500);
    expect(next).toEqual({ write: true, heldBefore: 47 });
  });

  it('keeps different shapes apart', () => {
    const l = new RepeatLimiter(1, 1000);
    expect(l.admit('database unreachable', 0).write).toBe(true);
    expect(l.admit('webhook "https://a" failed', 1).write).toBe(true);
    expect(l.admit('database unreachable', 2).write).toBe(false);
    expect(l.admit('webhook "https://b" failed', 3).write).toBe(false);
  });

  it('bounds its memory', () => {
    const l = new RepeatLimiter(1, 1000, 10);
    for (let i = 0; i < 1000; i++) l.admit(`shape ${'x'.repeat(i % 50)} ${String.fromCharCode(65 + (i % 26))}`, i);
    expect((l as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(10);
  });
});
