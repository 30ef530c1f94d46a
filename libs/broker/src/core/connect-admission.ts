/**
 * Who may start a TLS handshake with the broker, decided on the raw TCP connection before any
 * cryptography is spent on it: at most `ratePerSecond` new connections a second (a token bucket
 * holding up to `burst`), and at most `maxHandshakes` handshakes in progress at once. A mutual-TLS
 * handshake costs the service an ECDHE, a signature and a chain verification (about a millisecond
 * of one core); a reconnect storm of a whole fleet would otherwise spend every core on them and
 * stall the operator API and the appraisals. A refused connection is closed at once, before TLS,
 * and the device reconnects after its back-off; one admitted is in progress until `settled()`.
 */
export interface ConnectLimits {
  ratePerSecond: number;
  burst: number;
  maxHandshakes: number;
}

export type ConnectVerdict = { ok: true } | { ok: false; reason: 'connect-rate' | 'handshakes-in-progress'; message: string };

export class ConnectAdmission {
  private tokens: number;
  private at: number;
  private inProgress = 0;

  constructor(
    private readonly limits: ConnectLimits,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!(limits.ratePerSecond > 0) || !(limits.burst >= 1) || !(limits.maxHandshakes >= 1)) {
      throw new Error('connect admission needs a positive rate, a burst of at least 1 and at least 1 handshake');
    }
    this.tokens = limits.burst;
    this.at = clock();
  }

  /** For a new TCP connection: ok (a handshake now in progress, to be `settled()`), or why not. */
  admit(): ConnectVerdict {
    if (this.inProgress >= this.limits.maxHandshakes) {
      return { ok: false, reason: 'handshakes-in-progress', message: `${this.inProgress} TLS handshakes already in progress (limit ${this.limits.maxHandshakes})` };
    }
    const now = this.clock();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.at) / 1000) * this.limits.ratePerSecond);
    this.at = now;
    if (this.tokens < 1) {
      return { ok: false, reason: 'connect-rate', message: `over ${this.limits.ratePerSecond} new connections a second` };
    }
    this.tokens -= 1;
    this.inProgress++;
    return { ok: true };
  }

  /** The handshake of an admitted connection ended (completed, failed or the socket closed). Call once per admit. */
  settled(): void {
    if (this.inProgress > 0) this.inProgress--;
  }

  get handshakesInProgress(): number {
    return this.inProgress;
  }
}
