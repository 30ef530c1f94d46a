/**
 * The challenge nonces this instance issued and has not seen used, in memory: what the early look
 * of evidence asks the database for ("the stored row of the nonce the payload names"), answered
 * without a round trip when this instance issued the nonce.
 *
 * Only a hint. An entry says what this instance stored (device, expiry) and that it has not
 * committed a result with it; it never says "used", "unknown" or "expired" by itself (a miss, or
 * an entry past its expiry, asks the database). A nonce used meanwhile elsewhere (another
 * instance, a PSA token) reads as unused here, and the grouped commit, which uses the nonce only
 * if it is still unused, refuses it: the appraisal runs again without its early look and reads
 * the stored row (AppraisalWorker.process). So a stale entry costs an appraisal round, never a
 * verdict.
 *
 * Bounded: at `max` entries the oldest is dropped (its evidence then reads the database).
 */
export interface IssuedNonce {
  readonly deviceId: string;
  readonly expiresAt: Date;
}

export class IssuedNonces {
  private readonly entries = new Map<string, IssuedNonce>();

  constructor(private readonly max = 100_000) {
    if (!Number.isInteger(max) || max < 1) throw new Error('IssuedNonces: max must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  /** A nonce stored for `deviceId` (call once its row is in the database). */
  remember(nonce: string, deviceId: string, expiresAt: Date): void {
    this.entries.delete(nonce);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(nonce, { deviceId, expiresAt });
  }

  /** The nonce as this instance stored it, unused as far as it knows; undefined: ask the database. */
  lookup(nonce: string, nowMs = Date.now()): IssuedNonce | undefined {
    const e = this.entries.get(nonce);
    if (!e) return undefined;
    if (e.expiresAt.getTime() <= nowMs) {
      this.entries.delete(nonce);
      return undefined;
    }
    return e;
  }

  /** A result with this nonce committed: from now on its evidence reads the stored row (a replay sees it used). */
  used(nonce: string): void {
    this.entries.delete(nonce);
  }
}
