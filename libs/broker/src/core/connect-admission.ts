/**
 * Who may start a TLS handshake with the broker, decided on the raw TCP connection before any
 * cryptography is spent on it: at most `ratePerSecond` handshakes started a second (a token
 * bucket holding up to `burst`), at most `maxHandshakes` handshakes in progress at once, and at
 * most `maxWaiting` connections waiting (for at most `maxWaitMs`, first come first served) for
 * both. A mutual-TLS handshake costs the service an ECDHE, a signature and a chain verification
 * (about a millisecond of one core); a reconnect storm of a whole fleet would otherwise spend
 * every core on them and stall the operator API and the appraisals.
 *
 * Why a wait and not a refusal, for the rate as for the slots: a refused device backs off (1 s
 * doubling to 60 s), so a storm refused at a limit ends with devices sleeping while the broker is
 * idle (measured: plateaus of ~9 s without a connection, 10,000 devices back in 82 s). A
 * connection that waits costs a file descriptor and no CPU (it is not read from), and starts its
 * handshake the moment a slot and a token are free. Only with the wait room full is a connection
 * closed at once, before TLS (the device reconnects after its back-off); one that waited
 * `maxWaitMs` is closed too.
 */
export interface ConnectLimits {
  ratePerSecond: number;
  burst: number;
  maxHandshakes: number;
  /** Connections that may wait for a handshake slot or a token (0: none, every connection over a limit is refused). */
  maxWaiting?: number;
  /** How long a connection may wait before it is closed. */
  maxWaitMs?: number;
}

/** Runs `fn` after `ms` (a timer that does not hold the process open); returns its cancel. */
export type Schedule = (fn: () => void, ms: number) => () => void;

const unrefTimer: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export type ConnectVerdict =
  | { ok: true; waiting: boolean }
  | { ok: false; reason: 'connect-rate' | 'handshakes-in-progress'; message: string };

interface Waiter {
  since: number;
  start(): void;
  expire(): void;
}

/** One connection's place: its handshake runs, or it waits; `settled()` once it ends, whichever. */
export interface AdmissionTicket {
  settled(): void;
}

export class ConnectAdmission {
  private tokens: number;
  private at: number;
  private inProgress = 0;
  /** In arrival order (a Map keeps insertion order and deletes in O(1)). */
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;
  private readonly maxWaiting: number;
  private readonly maxWaitMs: number;
  /** Cancels the timer that starts waiters when the next token is due (set while waiters wait for tokens only). */
  private cancelTokenTimer?: () => void;

  constructor(
    private readonly limits: ConnectLimits,
    private readonly clock: () => number = () => performance.now(),
    private readonly schedule: Schedule = unrefTimer,
  ) {
    this.maxWaiting = limits.maxWaiting ?? 0;
    this.maxWaitMs = limits.maxWaitMs ?? 5_000;
    if (!(limits.ratePerSecond > 0) || !(limits.burst >= 1) || !(limits.maxHandshakes >= 1) || !(this.maxWaiting >= 0) || !(this.maxWaitMs > 0)) {
      throw new Error('connect admission needs a positive rate, a burst of at least 1, at least 1 handshake, a wait room of 0 or more and a positive wait');
    }
    this.tokens = limits.burst;
    this.at = clock();
  }

  /**
   * For a new TCP connection: refused (why), or admitted with a ticket. An admitted connection
   * either starts at once (`waiting` false: the caller starts its handshake now) or waits:
   * `start` is called when a slot and a token are free, or `expire` after `maxWaitMs` (the caller
   * closes it). Either way the caller calls `ticket.settled()` once when the connection's
   * handshake ends or the socket closes (a settled waiter leaves the queue).
   */
  admit(start: () => void, expire: () => void): { verdict: ConnectVerdict; ticket?: AdmissionTicket } {
    this.sweep();
    this.refill();
    const slotFree = this.inProgress < this.limits.maxHandshakes;
    const tokenFree = this.tokens >= 1;
    if (this.waiting.size === 0 && slotFree && tokenFree) {
      this.tokens -= 1;
      this.inProgress++;
      return { verdict: { ok: true, waiting: false }, ticket: this.ticketFor(null) };
    }
    if (this.waiting.size >= this.maxWaiting) {
      // Named after what holds the queue up: the slots, or (slots free) the rate.
      if (!slotFree || tokenFree) {
        return {
          verdict: {
            ok: false,
            reason: 'handshakes-in-progress',
            message: `${this.inProgress} TLS handshakes already in progress (limit ${this.limits.maxHandshakes}) and ${this.waiting.size} waiting (limit ${this.maxWaiting})`,
          },
        };
      }
      return { verdict: { ok: false, reason: 'connect-rate', message: `over ${this.limits.ratePerSecond} new connections a second and ${this.waiting.size} waiting (limit ${this.maxWaiting})` } };
    }
    const id = this.nextId++;
    this.waiting.set(id, { since: this.clock(), start, expire });
    const ticket = this.ticketFor(id);
    this.armTokenTimer(); // a slot frees through settled(); a token only with time
    return { verdict: { ok: true, waiting: true }, ticket };
  }

  /** Closes the waiters that have waited too long (the caller runs this on a timer; admit() runs it too). */
  sweep(): void {
    const now = this.clock();
    for (const [id, w] of this.waiting) {
      if (now - w.since < this.maxWaitMs) break;
      this.waiting.delete(id);
      w.expire();
    }
  }

  get handshakesInProgress(): number {
    return this.inProgress;
  }

  get handshakesWaiting(): number {
    return this.waiting.size;
  }

  private ticketFor(waitId: number | null): AdmissionTicket {
    let state: 'waiting' | 'running' | 'done' = waitId === null ? 'running' : 'waiting';
    const ticket: AdmissionTicket = {
      settled: () => {
        if (state === 'waiting') this.waiting.delete(waitId!);
        else if (state === 'running') {
          this.inProgress--;
          this.startWaiters();
        }
        state = 'done';
      },
    };
    if (waitId !== null) {
      const w = this.waiting.get(waitId)!;
      const start = w.start;
      w.start = () => {
        state = 'running';
        start();
      };
    }
    return ticket;
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.at) / 1000) * this.limits.ratePerSecond);
    this.at = now;
  }

  /** Starts waiters, first come first served, while a slot and a token are free; with slots free and no token, again when the next token is due. */
  private startWaiters(): void {
    this.sweep();
    this.refill();
    for (const [id, w] of this.waiting) {
      if (this.inProgress >= this.limits.maxHandshakes || this.tokens < 1) break;
      this.tokens -= 1;
      this.waiting.delete(id);
      this.inProgress++;
      w.start();
    }
    this.armTokenTimer();
  }

  private armTokenTimer(): void {
    if (this.waiting.size > 0 && this.inProgress < this.limits.maxHandshakes && this.tokens < 1 && !this.cancelTokenTimer) {
      const dueMs = Math.max(1, Math.ceil(((1 - this.tokens) / this.limits.ratePerSecond) * 1000));
      this.cancelTokenTimer = this.schedule(() => {
        this.cancelTokenTimer = undefined;
        this.startWaiters();
      }, dueMs);
    }
  }

  /** Cancels the pending timer (the broker closing). */
  close(): void {
    this.cancelTokenTimer?.();
    this.cancelTokenTimer = undefined;
  }
}
