import { createHash } from 'node:crypto';

/** One audit record as hashed. Field order is fixed by `canonical` below, not by the object. */
export interface AuditRecord {
  seq: number;
  at: string; // ISO-8601
  actor: string;
  organizationId: string | null;
  action: string;
  resource: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

export interface ChainedAuditRecord extends AuditRecord {
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth, so the hash does not depend on key order in storage (jsonb reorders). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

export function auditHash(prevHash: string, r: AuditRecord): string {
  const body = canonicalJson([r.seq, r.at, r.actor, r.organizationId, r.action, r.resource, r.outcome, r.details]);
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

export function chain(prevHash: string, r: AuditRecord): ChainedAuditRecord {
  return { ...r, prevHash, hash: auditHash(prevHash, r) };
}

export type ChainVerdict =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/**
 * Walks records in seq order from the genesis; names the first record whose stored link or hash
 * does not match what its content gives. Takes batches so a long log is checked in bounded memory.
 */
export class AuditChainVerifier {
  private expectedPrev = GENESIS_HASH;
  private expectedSeq = 1;
  private count = 0;
  private failure?: { brokenAt: number; reason: string };

  feed(records: ChainedAuditRecord[]): boolean {
    for (const r of records) {
      if (this.failure) return false;
      this.count++;
      if (r.seq !== this.expectedSeq) {
        this.failure = { brokenAt: r.seq, reason: `expected entry ${this.expectedSeq} but found ${r.seq} (an entry was removed or inserted)` };
      } else if (r.prevHash !== this.expectedPrev) {
        this.failure = { brokenAt: r.seq, reason: `entry ${r.seq} does not link to the hash of entry ${r.seq - 1}` };
      } else if (auditHash(r.prevHash, r) !== r.hash) {
        this.failure = { brokenAt: r.seq, reason: `entry ${r.seq} was altered: its content no longer gives its stored hash` };
      } else {
        this.expectedPrev = r.hash;
        this.expectedSeq++;
      }
    }
    return !this.failure;
  }

  result(): ChainVerdict {
    if (this.failure) return { ok: false, entries: this.count, ...this.failure };
    return { ok: true, entries: this.count, head: this.expectedPrev };
  }
}
