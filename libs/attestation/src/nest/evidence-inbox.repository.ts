import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows, namedStatement } from '@fleetguard/persistence';
import { deviceAttestationUpdate, writeDeviceAttestation } from '@fleetguard/fleet/nest';
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

export type CommitOutcome = { kind: 'committed'; audience: Array<string | null> | null; current: boolean } | { kind: 'refused'; reason: 'lease-lost' | 'nonce-taken' };

const JOB_COLUMNS = 'id, device_id, evidence, channel, received_at, attempts';

/** A stored challenge nonce as nonceRows() reads it. */
export interface NonceRow {
  nonce: string;
  device_id: string;
  used_at: Date | null;
  expires_at: Date;
}

/** How a nonce (its row, or none) stood for a device's evidence received at `receivedAt`. */
export function nonceStateOf(n: NonceRow | undefined, deviceId: string, receivedAt: Date): NonceState {
  if (!n || n.device_id !== deviceId) return 'unknown';
  if (n.used_at) return 'used';
  if (new Date(n.expires_at).getTime() <= receivedAt.getTime()) return 'expired';
  return 'ok';
}

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
   * record() for many messages in one INSERT (a burst's evidence costs one statement). The caller
   * puts each evidence hash at most once in a call; a hash already stored is `duplicate`, looked
   * up in a second statement only when there is one.
   */
  async recordMany(claimant: string, leaseSeconds: number, items: Array<{ deviceId: string; hash: string; id: string; evidence: string; channel: 'mqtt' | 'http' }>): Promise<Array<{ inboxId: string; duplicate: boolean; receivedAt: Date }>> {
    if (!items.length) return [];
    const raw = await this.ds.query(
      namedStatement('attestation.inbox.record-many', `INSERT INTO attestation_inbox (id, device_id, evidence_hash, evidence, channel, claimed_by, lease_until, attempts)
       SELECT id, device_id, evidence_hash, evidence, channel, $1, now() + make_interval(secs => $2), 1
       FROM unnest($3::uuid[], $4::varchar[], $5::varchar[], $6::text[], $7::varchar[]) AS t(id, device_id, evidence_hash, evidence, channel)
       ON CONFLICT (evidence_hash) DO NOTHING RETURNING id, evidence_hash, received_at`),
      [claimant, leaseSeconds, items.map((x) => x.id), items.map((x) => x.deviceId), items.map((x) => x.hash), items.map((x) => x.evidence), items.map((x) => x.channel)],
    );
    const byHash = new Map<string, { id: string; received_at: Date | string; duplicate: boolean }>();
    for (const r of returningRows<{ id: string; evidence_hash: string; received_at: Date }>(raw)) byHash.set(r.evidence_hash, { ...r, duplicate: false });
    const missing = items.filter((x) => !byHash.has(x.hash)).map((x) => x.hash);
    if (missing.length) {
      const existing: Array<{ id: string; evidence_hash: string; received_at: Date }> = await this.ds.query('SELECT id, evidence_hash, received_at FROM attestation_inbox WHERE evidence_hash = ANY($1::varchar[])', [missing]);
      for (const r of existing) byHash.set(r.evidence_hash, { ...r, duplicate: true });
    }
    return items.map((x) => {
      const r = byHash.get(x.hash);
      if (!r) throw new Error(`evidence ${x.hash} neither stored nor found`);
      return { inboxId: r.id, duplicate: r.duplicate, receivedAt: new Date(r.received_at) };
    });
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
    return (await this.nonceStatesAt([{ deviceId, nonce, receivedAt }]))[0];
  }

  /** nonceStateAt() for many pieces of evidence in one statement. */
  async nonceStatesAt(items: ReadonlyArray<{ deviceId: string; nonce: string; receivedAt: Date }>): Promise<NonceState[]> {
    if (!items.length) return [];
    const byNonce = await this.nonceRows(items.map((x) => x.nonce));
    return items.map(({ deviceId, nonce, receivedAt }) => nonceStateOf(byNonce.get(nonce), deviceId, receivedAt));
  }

  /** The stored nonces among these (one statement), to be judged with nonceStateOf(). */
  async nonceRows(nonces: readonly string[]): Promise<Map<string, NonceRow>> {
    if (!nonces.length) return new Map();
    const rows: NonceRow[] = await this.ds.query('SELECT nonce, device_id, used_at, expires_at FROM nonces WHERE nonce = ANY($1::varchar[])', [[...new Set(nonces)]]);
    return new Map(rows.map((r) => [r.nonce, r]));
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

  /**
   * Commits a batch of appraisals in ONE statement with the guarantees of commit(), per row: the
   * inbox mark only while `claimant` holds the row (locked first, `FOR UPDATE`), the nonce use
   * only if still unused and unexpired at receipt, the result, and the device's state only if no
   * later evidence set it. A row whose lease is lost or whose nonce was taken writes nothing
   * (its outcome says which); the others commit. The caller guarantees at most one row per
   * device and per nonce in a batch (a row-level UPDATE ... FROM takes one match per target row),
   * and no `alsoWrite` (those go through commit()).
   *
   * The batch travels as one JSON parameter (its JSON values as they are, not each stringified
   * and escaped into an array literal), read as jsonb: parsed once, where json_to_recordset parses
   * the text again for every jsonb column of every row (with a burst of 43 results, 1.6-1.9 ms
   * against 3.1-3.5 ms of the server's time for the input alone). The result's evidence is copied
   * from the inbox row it was recorded in, not sent again.
   */
  async commitMany(claimant: string, items: Array<{ job: InboxJob; r: ResultRecord }>): Promise<Array<CommitOutcome>> {
    if (!items.length) return [];
    const batch = items.map(({ job, r }) => ({
      inbox_id: job.inboxId,
      device_id: job.deviceId,
      nonce: r.nonce,
      received_at: job.receivedAt.toISOString(),
      result_id: r.id,
      status: r.status,
      trust_vector: r.trustVector,
      reasons: r.reasons,
      findings: r.findings,
      firmware_version: r.firmwareVersion,
      security_counter: r.securityCounter,
      claims: r.claims ?? null,
      ear: r.ear,
      affirming: r.affirming,
      fw_version: r.firmware?.version ?? null,
      fw_counter: r.firmware?.securityCounter ?? null,
    }));
    const raw = await this.ds.query(
      namedStatement('attestation.inbox.commit-many', `WITH input AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS t(inbox_id uuid, device_id varchar, nonce varchar, received_at timestamptz, result_id uuid, status varchar,
           trust_vector jsonb, reasons jsonb, findings jsonb, firmware_version varchar, security_counter bigint, claims jsonb, ear text, affirming bool, fw_version varchar, fw_counter bigint)
       ),
       held AS (
         SELECT i.id, i.evidence FROM attestation_inbox i WHERE i.id = ANY($3::uuid[]) AND i.claimed_by = $1 AND i.processed_at IS NULL FOR UPDATE
       ),
       used AS (
         UPDATE nonces n SET used_at = now() FROM input
         WHERE input.nonce IS NOT NULL AND n.nonce = input.nonce AND n.device_id = input.device_id AND n.used_at IS NULL AND n.expires_at > input.received_at
           AND input.inbox_id IN (SELECT id FROM held)
         RETURNING n.nonce, n.device_id
       ),
       ok AS (
         SELECT input.*, held.evidence FROM input JOIN held ON held.id = input.inbox_id
         WHERE input.nonce IS NULL OR EXISTS (SELECT 1 FROM used WHERE used.nonce = input.nonce AND used.device_id = input.device_id)
       ),
       marked AS (
         UPDATE attestation_inbox i SET processed_at = now(), lease_until = NULL, last_error = NULL FROM ok WHERE i.id = ok.inbox_id RETURNING i.id
       ),
       stored AS (
         INSERT INTO attestation_results (id, device_id, inbox_id, status, trust_vector, reasons, findings, firmware_version, security_counter, evidence, claims, ear)
         SELECT result_id, device_id, inbox_id, status, trust_vector, reasons, findings, firmware_version, security_counter, evidence, claims, ear FROM ok
         RETURNING inbox_id
       ),
       dev AS (${deviceAttestationUpdate('ok', ['inbox_id'])}
       )
       SELECT input.inbox_id,
              EXISTS (SELECT 1 FROM held WHERE held.id = input.inbox_id) AS held,
              EXISTS (SELECT 1 FROM marked WHERE marked.id = input.inbox_id) AS committed,
              EXISTS (SELECT 1 FROM stored WHERE stored.inbox_id = input.inbox_id) AS stored,
              dev.manufacturer_org_id, dev.operator_org_id, dev.current
       FROM input LEFT JOIN dev ON dev.inbox_id = input.inbox_id`),
      [claimant, JSON.stringify(batch), items.map((x) => x.job.inboxId)],
    );
    const rows = returningRows<{ inbox_id: string; held: unknown; committed: unknown; manufacturer_org_id: string | null; operator_org_id: string | null; current: unknown }>(raw);
    const byId = new Map(rows.map((x) => [x.inbox_id, x]));
    const truthy = (v: unknown) => v === true || v === 't';
    return items.map(({ job }) => {
      const row = byId.get(job.inboxId);
      if (!row || !truthy(row.held)) return { kind: 'refused', reason: 'lease-lost' } as const;
      if (!truthy(row.committed)) return { kind: 'refused', reason: 'nonce-taken' } as const;
      const audience = row.manufacturer_org_id ? [row.manufacturer_org_id, row.operator_org_id] : null;
      return { kind: 'committed', audience, current: truthy(row.current) } as const;
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

  /** The device's attestation state, by fleet's statement in this transaction (its rules are there). */
  private applyDeviceState(m: EntityManager, job: InboxJob, r: ResultRecord): Promise<{ audience: Array<string | null> | null; current: boolean }> {
    return writeDeviceAttestation(m, { deviceId: job.deviceId, status: r.status, receivedAt: job.receivedAt, affirming: r.affirming, firmware: r.firmware });
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

  /**
   * Removes up to `limit` appraised rows received before `before`, oldest first (their evidence
   * is kept with the result; unappraised rows are never removed). Rows another sweeper is
   * deleting are skipped. Returns how many went.
   */
  async purgeProcessed(before: Date, limit: number): Promise<number> {
    const raw = await this.ds.query(
      `DELETE FROM attestation_inbox WHERE id IN (
         SELECT id FROM attestation_inbox WHERE received_at < $1 AND processed_at IS NOT NULL ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [before, limit],
    );
    return returningRows(raw).length;
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
