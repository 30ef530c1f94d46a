/**
 * When an appraisal that hit a database error (or whose claimant vanished) is tried again:
 * exponential from `baseMs`, capped at `maxMs`, with up to 20 % jitter so a backlog released by
 * a recovered database does not come back in one wave. `random` is injectable for tests.
 */
export function retryDelayMs(attempt: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 60_000;
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(max, base * 2 ** Math.min(n - 1, 30));
  const jitter = 1 - 0.2 * (opts.random ?? Math.random)();
  return Math.max(1, Math.round(raw * jitter));
}
