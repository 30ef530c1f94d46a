/**
 * Who may start a TLS handshake with the broker, decided on the raw TCP connection before any
 * cryptography is spent on it: at most `ratePerSecond` new connections a second (a token bucket
 * holding up to `burst`), at most `maxHandshakes` handshakes in progress at once, and at most
 * `maxWaiting` connections waiting (for at most `maxWaitMs`, first come first served) for a
 * handshake to finish. A mutual-TLS handshake costs the service an ECDHE, a signature and a chain
 * verification (about a millisecond of one core); a reconnect storm of a whole fleet would
 * otherwise spend every core on them and stall the operator API and the appraisals.
 *
 * Why a wait and not only a refusal: a refused device backs off (1 s doubling to 60 s), so a
 * storm refused at the handshake limit ends with devices sleeping while the broker is idle; a
 * connection that waits costs a file descriptor and no CPU (it is not read from), and starts its
 * handshake the moment a slot frees. Beyond the rate, or with the slots and the wait room full,
 * a connection is closed at once, before TLS, and the device reconnects after its back-off.
 */
export interface ConnectLimits {
  ratePerSecond: number;
  burst: number;
  maxHandshakes: number;
  /** Connections that may wait for a handshake slot (0: none, every connection over the limit is refused). */
  maxWaiting?: number;
  /** How long a connection may wait for a slot before it is closed. */
  maxWaitMs?: number;
}

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

  constructor(
    private readonly limits: ConnectLimits,
    private readonly clock: () => number = () => performance.now(),
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
   * either holds a slot at once (`waiting` false: the caller starts its handshake now) or waits:
   * `start` is called when a slot frees, or `expire` after `maxWaitMs` (the caller closes it).
   * Either way the caller calls `ticket.settled()` once when the connection's handshake ends or
   * the socket closes (a settled waiter leaves the queue).
   */
  admit(start: () => void, expire: () => void): { verdict: ConnectVerdict; ticket?: AdmissionTicket } {
    this.sweep();
    const now = this.clock();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.at) / 1000) * this.limits.ratePerSecond);
    this.at = now;
    const slotFree = this.inProgress < this.limits.maxHandshakes && this.waiting.size === 0;
    if (!slotFree && this.waiting.size >= this.maxWaiting) {
      return {
        verdict: {
          ok: false,
          reason: 'handshakes-in-progress',
          message: `${this.inProgress} TLS handshakes already in progress (limit ${this.limits.maxHandshakes}) and ${this.waiting.size} waiting (limit ${this.maxWaiting})`,
        },
      };
    }
    if (this.tokens < 1) {
      return { verdict: { ok: false, reason: 'connect-rate', message: `over ${this.limits.ratePerSecond} new connections a second` } };
    }
    this.tokens -= 1;
    if (slotFree) {
      this.inProgress++;
      return { verdict: { ok: true, waiting: false }, ticket: this.ticketFor(null) };
    }
    const id = this.nextId++;
    this.waiting.set(id, { since: now, start, expire });
    return { verdict: { ok: true, waiting: true }, ticket: this.ticketFor(id) };
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

  private startWaiters(): void {
    this.sweep();
    for (const [id, w] of this.waiting) {
      if (this.inProgress >= this.limits.maxHandshakes) break;
      this.waiting.delete(id);
      this.inProgress++;
      w.start();
    }
  }
}
