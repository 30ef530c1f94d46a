import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { NonceState } from '../core/appraisal.pipeline';

/** One inbox row as a claimant holds it. */
export interface InboxJob {
  inboxId: string;
  deviceId: string;
  evidence: string;
  channel: 'mqtt' | 'http';
  receivedAt: Date;
  attempts: number;
}

export interface StoredResult {
  id: string;
  status: string;
  ear: string;
  reasons: string[];
}

/** What one appraisal writes when it commits. */
export interface ResultRecord {
  id: string;
  status: string;
  trustVector: unknown;
  reasons: string[];
  findings: unknown[];
  firmwareVersion: string | null;
  securityCounter: number | null;
  claims: unknown;
  ear: string;
  /** The nonce to consume in the same transaction (null when freshness was not established). */
  nonce: string | null;
  affirming: boolean;
  /** Firmware of an affirming result (becomes the device's current firmware). */
  firmware: { version: string; securityCounter: number } | null;
  /** More of the appraisal's state to write in its transaction (e.g. a Linux device's IMA state). */
  alsoWrite?: (m: EntityManager) => Promise<void>;
}

/** Why a commit did not happen; the caller decides (drop, or appraise again). */
export class CommitRefused extends Error {
  constructor(readonly reason: 'lease-lost' | 'nonce-taken') {
    super(reason);
  }
}

const JOB_COLUMNS = 'id, device_id, evidence, channel, received_at, attempts';

/**
 * The evidence inbox and its results (tables owned by attestation): evidence recorded durably
 * before it is acknowledged, claimed with a lease, committed exactly once. Queries only; the
 * rules (when to retry, what to judge) are the worker's and the core's.
 */
@Injectable()
export class EvidenceInboxRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Records evidence, claimed at once by `claimant` (its own queue appraises it next). The same
   * evidence again (a QoS 1 redelivery, an HTTP retry) is the same row: `duplicate`.
   */
  async record(deviceId: string, hash: string, id: string, evidence: string, channel: 'mqtt' | 'http', claimant: string, leaseSeconds: number): Promise<{ inboxId: string; duplicate: boolean; receivedAt: Date }> {
    const rows: Array<{ id: string; received_at: Date }> = await this.ds.query(
      `INSERT INTO attestation_inbox (id, device_id, evidence_hash, evidence, channel, claimed_by, lease_until, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), 1)
       ON CONFLICT (evidence_hash) DO NOTHING RETURNING id, received_at`,
      [id, deviceId, hash, evidence, channel, claimant, leaseSeconds],
    );
    if (rows.length) return { inboxId: id, duplicate: false, receivedAt: new Date(rows[0].received_at) };
    const existing: Array<{ id: string; received_at: Date }> = await this.ds.query('SELECT id, received_at FROM attestation_inbox WHERE evidence_hash = $1', [hash]);
    return { inboxId: existing[0].id, duplicate: true, receivedAt: new Date(existing[0].received_at) };
  }

  /**
   * Claims up to `limit` unprocessed rows that nobody holds (never claimed, lease expired, or
   * released for a retry whose time has come), oldest first. `FOR UPDATE SKIP LOCKED`: two
   * claimants running this at once get disjoint rows.
   */
  async claim(claimant: string, limit: number, leaseSeconds: number): Promise<InboxJob[]> {
    if (limit <= 0) return [];
    const raw = await this.ds.query(
      `UPDATE attestation_inbox SET claimed_by = $1, lease_until = now() + make_interval(secs => $3), attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM attestation_inbox
         WHERE processed_at IS NULL AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
         ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${JOB_COLUMNS}`,
      [claimant, limit, leaseSeconds],
    );
    return returningRows<Record<string, unknown>>(raw).map(toJob).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  }

  /** Gives a row back after a failed attempt: claimable again after `delayMs` (by anyone). */
  async release(inboxId: string, claimant: string, delayMs: number, error: string): Promise<void> {
    await this.ds.query(
      `UPDATE attestation_inbox SET lease_until = NULL, next_attempt_at = now() + make_interval(secs => $3), last_error = $4
       WHERE id = $1 AND claimed_by = $2 AND processed_at IS NULL`,
      [inboxId, claimant, delayMs / 1000, error.slice(0, 500)],
    );
  }

  /** Records a failed attempt (kept by its claimant, which retries it after `delayMs`). */
  async noteFailure(inboxId: string, claimant: string, delayMs: number, error: string): Promise<void> {
    await this.ds.query(
      `UPDATE attestation_inbox SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4,
         lease_until = GREATEST(lease_until, now() + make_interval(secs => $3))
       WHERE id = $1 AND claimed_by = $2 AND processed_at IS NULL`,
      [inboxId, claimant, delayMs / 1000, error.slice(0, 500)],
    );
  }

  /**
   * On the embedded engine the process holds the database alone (EmbeddedLock), so the leases
   * of a previous run belong to a dead process: free them at boot instead of waiting them out.
   */
  async releaseAllLeases(): Promise<number> {
    const raw = await this.ds.query(`UPDATE attestation_inbox SET lease_until = NULL WHERE processed_at IS NULL AND lease_until IS NOT NULL RETURNING id`);
    return returningRows(raw).length;
  }

  /**
   * How the evidence's nonce stood when the evidence was received (freshness is judged at
   * receipt, not at appraisal: a backlog or an outage never turns good evidence "expired").
   * A nonce used by this very inbox row cannot be seen here: its use commits with the result.
   */
  async nonceStateAt(deviceId: string, nonce: string, receivedAt: Date): Promise<NonceState> {
    const rows: Array<{ used_at: Date | null; expires_at: Date }> = await this.ds.query('SELECT used_at, expires_at FROM nonces WHERE nonce = $1 AND device_id = $2', [nonce, deviceId]);
    const n = rows[0];
    if (!n) return 'unknown';
    if (n.used_at) return 'used';
    if (new Date(n.expires_at).getTime() <= receivedAt.getTime()) return 'expired';
    return 'ok';
  }

  /**
   * Commits one appraisal in ONE transaction: the inbox mark (only while `claimant` still holds
   * the row), the nonce use (only if still unused and unexpired at receipt), the result (one per
   * inbox row) and the device's state (only if no later evidence set it already). Throws
   * CommitRefused, with nothing written, when the lease was lost or the nonce was taken.
   * Returns the device's audiences and whether the result became its current state.
   */
  async commit(job: InboxJob, claimant: string, r: ResultRecord): Promise<{ audience: Array<string | null> | null; current: boolean }> {
    return this.ds.transaction(async (m) => {
      await this.markProcessed(m, job.inboxId, claimant);
      if (r.nonce) {
        const used = returningRows(
          await m.query(`UPDATE nonces SET used_at = now() WHERE nonce = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING nonce`, [r.nonce, job.deviceId, job.receivedAt]),
        );
        if (!used.length) throw new CommitRefused('nonce-taken');
      }
      await m.query(
        `INSERT INTO attestation_results (id, device_id, inbox_id, status, trust_vector, reasons, findings, firmware_version, security_counter, evidence, claims, ear)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [r.id, job.deviceId, job.inboxId, r.status, JSON.stringify(r.trustVector), JSON.stringify(r.reasons), JSON.stringify(r.findings), r.firmwareVersion, r.securityCounter, job.evidence, r.claims ? JSON.stringify(r.claims) : null, r.ear],
      );
      if (r.alsoWrite) await r.alsoWrite(m);
      return this.applyDeviceState(m, job, r);
    });
  }

  /** Evidence that is not an EAT at all: processed without a result (refused, told to the device). */
  async commitRefusal(job: InboxJob, claimant: string): Promise<void> {
    await this.ds.transaction((m) => this.markProcessed(m, job.inboxId, claimant));
  }

  private async markProcessed(m: EntityManager, inboxId: string, claimant: string): Promise<void> {
    const marked = returningRows(
      await m.query(`UPDATE attestation_inbox SET processed_at = now(), lease_until = NULL, last_error = NULL WHERE id = $1 AND claimed_by = $2 AND processed_at IS NULL RETURNING id`, [inboxId, claimant]),
    );
    if (!marked.length) throw new CommitRefused('lease-lost');
  }

  /**
   * The device's attestation state (the devices table is fleet's; this one statement is kept
   * here so the result and the state commit together — it is the seam a fleet port replaces).
   * `attestation_at` is the receipt time of the evidence behind the current state; a result for
   * earlier evidence is stored but leaves the state alone. The anti-rollback high-water mark only
   * ever grows, so it takes every affirming result.
   */
  private async applyDeviceState(m: EntityManager, job: InboxJob, r: ResultRecord): Promise<{ audience: Array<string | null> | null; current: boolean }> {
    // Every SET expression reads the row as it was (SQL semantics), so `fresher` is judged once,
    // against the latest committed state (the row lock makes a concurrent commit re-read it).
    const fresher = '(attestation_at IS NULL OR attestation_at <= $3::timestamptz)';
    const raw = await m.query(
      `UPDATE devices SET
         attestation_status = CASE WHEN ${fresher} THEN $2 ELSE attestation_status END,
         attestation_at = CASE WHEN ${fresher} THEN $3::timestamptz ELSE attestation_at END,
         last_seen_at = GREATEST(COALESCE(last_seen_at, $3::timestamptz), $3::timestamptz),
         affirmed_at = CASE WHEN ${fresher} AND $4 THEN $3::timestamptz ELSE affirmed_at END,
         firmware_version = CASE WHEN ${fresher} AND $4 THEN $5 ELSE firmware_version END,
         firmware_security_counter = CASE WHEN ${fresher} AND $4 THEN $6::integer ELSE firmware_security_counter END,
         max_security_counter_seen = CASE WHEN $4 THEN GREATEST(COALESCE(max_security_counter_seen, 0), $6::integer) ELSE max_security_counter_seen END
       WHERE id = $1
       RETURNING manufacturer_org_id, operator_org_id, attestation_at = $3::timestamptz AS current`,
      [job.deviceId, r.status, job.receivedAt, r.affirming, r.firmware?.version ?? null, r.firmware?.securityCounter ?? null],
    );
    const row = returningRows<{ manufacturer_org_id: string; operator_org_id: string | null; current: boolean }>(raw)[0];
    if (!row) return { audience: null, current: false };
    return { audience: [row.manufacturer_org_id, row.operator_org_id], current: row.current === true || (row.current as unknown) === 't' };
  }

  /** One stored result's EAR, if the result is this device's. */
  async storedEar(deviceId: string, resultId: string): Promise<string | null> {
    const rows: Array<{ ear: string }> = await this.ds.query('SELECT ear FROM attestation_results WHERE id = $1 AND device_id = $2', [resultId, deviceId]);
    return rows[0]?.ear ?? null;
  }

  async resultForInbox(inboxId: string): Promise<StoredResult | null> {
    const rows = await this.ds.query('SELECT id, status, ear, reasons FROM attestation_results WHERE inbox_id = $1 LIMIT 1', [inboxId]);
    return rows[0] ?? null;
  }

  /** Unprocessed rows (the backlog gauge). */
  async backlog(): Promise<number> {
    const rows = await this.ds.query('SELECT count(*)::int AS n FROM attestation_inbox WHERE processed_at IS NULL');
    return rows[0]?.n ?? 0;
  }
}

function toJob(r: Record<string, unknown>): InboxJob {
  return {
    inboxId: r.id as string,
    deviceId: r.device_id as string,
    evidence: r.evidence as string,
    channel: r.channel as 'mqtt' | 'http',
    receivedAt: new Date(r.received_at as string),
    attempts: Number(r.attempts),
  };
}
