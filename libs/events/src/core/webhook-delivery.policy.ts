/**
 * The rules of webhook delivery, without I/O: when the next attempt is due, when a delivery is
 * given up (dead-lettered), and a per-receiver circuit breaker. The outbox worker
 * (nest/webhook-outbox.service.ts) applies them to rows of `webhook_deliveries`.
 */

export interface BackoffSettings {
  /** First retry delay; doubled for each further one. */
  baseMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** A delivery is retried until this long after it was queued, then dead. */
  horizonMs: number;
}

/**
 * Delay before attempt `attempts + 1`, after `attempts` failed ones: base·2^(attempts-1), capped,
 * with ±25 % jitter so that receivers coming back are not hit by every sender at once.
 */
export function retryDelayMs(attempts: number, s: BackoffSettings, random: () => number = Math.random): number {
  const exp = Math.min(s.maxMs, s.baseMs * 2 ** Math.min(40, Math.max(0, attempts - 1)));
  return Math.round(exp * (0.75 + random() * 0.5));
}

export type FailureVerdict = { status: 'pending'; nextAttemptAt: Date } | { status: 'dead' };

/** After a failed attempt: the next one, or dead when it would fall past the horizon. */
export function afterFailure(attempts: number, expiresAt: Date, now: Date, s: BackoffSettings, random: () => number = Math.random): FailureVerdict {
  const next = new Date(now.getTime() + retryDelayMs(attempts, s, random));
  return next.getTime() > expiresAt.getTime() ? { status: 'dead' } : { status: 'pending', nextAttemptAt: next };
}

/** Attempts a delivery gets at most under these settings (the schedule without jitter's help). */
export function maxAttempts(s: BackoffSettings): number {
  let t = 0;
  let n = 1;
  // with the shortest jitter (0.75) every delay, how many fit in the horizon
  while (n < 10_000) {
    const d = Math.min(s.maxMs, s.baseMs * 2 ** Math.min(40, n - 1)) * 0.75;
    if (t + d > s.horizonMs) break;
    t += d;
    n++;
  }
  return n;
}

export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long it stays open before one probe is let through (doubled after a failed probe, up to maxOpenMs). */
  openMs: number;
  maxOpenMs: number;
}

type BreakerState = { failures: number; openUntil: number; openMs: number; probing: boolean };

/**
 * A circuit breaker per receiver (scheme, host and port): closed, it lets everything through;
 * after `failures` consecutive failures it opens and lets nothing through for `openMs`; then one
 * probe (half-open): a success closes it, a failure opens it again for twice as long.
 */
export class ReceiverBreakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(private readonly s: BreakerSettings) {}

  /** May an attempt to this receiver start now (and if half-open, it becomes the probe). */
  admit(receiver: string, now = Date.now()): boolean {
    const st = this.states.get(receiver);
    if (!st || st.openUntil === 0) return true;
    if (now < st.openUntil || st.probing) return false;
    st.probing = true;
    return true;
  }

  /** Receivers that take nothing now (open, or half-open with its probe under way). */
  blocked(now = Date.now()): string[] {
    const out: string[] = [];
    for (const [r, st] of this.states) if (st.openUntil !== 0 && (now < st.openUntil || st.probing)) out.push(r);
    return out;
  }

  state(receiver: string, now = Date.now()): 'closed' | 'open' | 'half-open' {
    const st = this.states.get(receiver);
    if (!st || st.openUntil === 0) return 'closed';
    return now < st.openUntil && !st.probing ? 'open' : 'half-open';
  }

  openCount(now = Date.now()): number {
    return this.blocked(now).length;
  }

  success(receiver: string): void {
    this.states.delete(receiver);
  }

  failure(receiver: string, now = Date.now()): void {
    const st = this.states.get(receiver) ?? { failures: 0, openUntil: 0, openMs: this.s.openMs, probing: false };
    st.failures++;
    if (st.probing) {
      st.probing = false;
      st.openMs = Math.min(this.s.maxOpenMs, st.openMs * 2);
      st.openUntil = now + st.openMs;
    } else if (st.openUntil === 0 && st.failures >= this.s.failures) {
      st.openUntil = now + st.openMs;
    }
    this.states.set(receiver, st);
  }

  /** An operator asked for a redelivery: the receiver gets a fresh chance. */
  reset(receiver: string): void {
    this.states.delete(receiver);
  }
}

/** The receiver a URL's deliveries share concurrency and a breaker under: its origin. */
export function receiverOf(url: string): string {
  return new URL(url).origin;
}
