import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { HardeningReport, SlVector } from '../core';
import type { StoredScoreSummary } from './scoring-inputs';

/** What scoring a device needs from its row and its latest report. */
export interface ScoringSubject {
  deviceId: string;
  productId: string;
  manufacturerOrgId: string;
  operatorOrgId: string | null;
  status: string;
  attestationStatus: string | null;
  attestationAt: Date | null;
  affirmedAt: Date | null;
  /** What is stored now (null before the first score). */
  slEvidenced: Record<string, number> | null;
  slDeclared: Record<string, number> | null;
  belowTarget: boolean | null;
  /** The latest report (null: the device has sent none). */
  report: HardeningReport | null;
  reportId: string | null;
  reportedAt: Date | null;
  /** attestation_at in microseconds since the epoch: the version a write is checked against. */
  attestationVersion: string | null;
}

export interface ProductScoringRow {
  id: string;
  componentType: string;
  declaredRequirements: string[];
  targetLevels: Record<string, number>;
}

export interface ScoreWrite {
  deviceId: string;
  evidenced: SlVector;
  declared: SlVector;
  items: StoredScoreSummary;
  belowTarget: boolean;
  cause: string;
  /** Add an entry to the device's history. */
  history: boolean;
  /** Update the levels on the device row. */
  update: boolean;
  /** What the score was computed from; the write is skipped if either has moved on since. */
  reportId: string | null;
  attestationVersion: string | null;
}

export interface ScoreHistoryEntry {
  at: Date;
  evidenced: SlVector;
  declared: SlVector;
  belowTarget: boolean;
  cause: string;
}

interface SubjectRow {
  id: string;
  product_id: string;
  manufacturer_org_id: string;
  operator_org_id: string | null;
  status: string;
  attestation_status: string | null;
  attestation_at: Date | null;
  affirmed_at: Date | null;
  sl_evidenced: Record<string, number> | null;
  sl_declared: Record<string, number> | null;
  below_target: boolean | null;
  report: HardeningReport | null;
  report_id: string | null;
  received_at: Date | null;
  att_us: string | null;
}

const SUBJECT_COLUMNS = `
  d.id, d.product_id, d.manufacturer_org_id, d.operator_org_id, d.status,
  d.attestation_status, d.attestation_at, d.affirmed_at, d.sl_evidenced, d.sl_declared, d.below_target,
  r.report, r.id AS report_id, r.received_at,
  (extract(epoch FROM d.attestation_at) * 1000000)::bigint::text AS att_us`;

const LATEST_REPORT = `
  LEFT JOIN LATERAL (
    SELECT h.id, h.report, h.received_at FROM hardening_reports h
    WHERE h.device_id = d.id ORDER BY h.received_at DESC LIMIT 1
  ) r ON true`;

function toSubject(r: SubjectRow): ScoringSubject {
  return {
    deviceId: r.id,
    productId: r.product_id,
    manufacturerOrgId: r.manufacturer_org_id,
    operatorOrgId: r.operator_org_id,
    status: r.status,
    attestationStatus: r.attestation_status,
    attestationAt: r.attestation_at,
    affirmedAt: r.affirmed_at,
    slEvidenced: r.sl_evidenced,
    slDeclared: r.sl_declared,
    belowTarget: r.below_target,
    report: r.report,
    reportId: r.report_id,
    reportedAt: r.received_at,
    attestationVersion: r.att_us,
  };
}

/**
 * The hardening tables' queries (hardening_reports, device_scores, and the level columns of
 * devices). A plain class over a DataSource, so the service and the fleet-wide batch (and its
 * benchmark) run the same SQL, on PostgreSQL and PGlite alike.
 */
export class HardeningRepository {
  constructor(private readonly ds: DataSource) {}

  /** Stores a validated report for an active device; null when there is no such device. */
  async insertReport(deviceId: string, report: HardeningReport, channel: 'mqtt' | 'http'): Promise<{ id: string; receivedAt: Date; duplicate?: boolean } | null> {
    if (channel === 'mqtt') {
      // A QoS 1 redelivery (stored, but the PUBACK was lost) is the same report again: recognised, not stored twice.
      const same = await this.ds.query(
        `SELECT id, received_at FROM hardening_reports WHERE device_id = $1 AND channel = 'mqtt' AND report = $2::jsonb AND received_at > now() - interval '10 minutes' ORDER BY received_at DESC LIMIT 1`,
        [deviceId, JSON.stringify(report)],
      );
      if (same.length) return { id: same[0].id, receivedAt: same[0].received_at, duplicate: true };
    }
    const id = randomUUID();
    const rows = returningRows<{ received_at: Date }>(
      await this.ds.query(
        `INSERT INTO hardening_reports (id, device_id, report, channel)
         SELECT $1::uuid, $2::varchar, $3::jsonb, $4::varchar WHERE EXISTS (SELECT 1 FROM devices WHERE id = $2::varchar AND status = 'active')
         RETURNING received_at`,
        [id, deviceId, JSON.stringify(report), channel],
      ),
    );
    return rows.length ? { id, receivedAt: rows[0].received_at } : null;
  }

  async subjects(deviceIds: readonly string[]): Promise<ScoringSubject[]> {
    if (!deviceIds.length) return [];
    const rows = returningRows<SubjectRow>(
      await this.ds.query(`SELECT ${SUBJECT_COLUMNS} FROM devices d ${LATEST_REPORT} WHERE d.id = ANY($1::varchar[])`, [deviceIds]),
    );
    return rows.map(toSubject);
  }

  /**
   * Keyset batch boundaries: the first id of every `batchSize` active devices, in id order (one
   * pass over the primary key index). Batches are then read by range, several at a time.
   */
  async activeBatchStarts(batchSize: number): Promise<string[]> {
    const rows = returningRows<{ id: string }>(
      await this.ds.query(
        `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM devices WHERE status = 'active') t
         WHERE (n - 1) % $1 = 0 ORDER BY id`,
        [batchSize],
      ),
    );
    return rows.map((r) => r.id);
  }

  /** Active devices with `from <= id < to` (`to` null: to the end), in id order, with their latest reports. */
  async activeSubjectsBetween(from: string, to: string | null): Promise<ScoringSubject[]> {
    const rows = returningRows<SubjectRow>(
      await this.ds.query(
        `SELECT ${SUBJECT_COLUMNS} FROM devices d ${LATEST_REPORT}
         WHERE d.status = 'active' AND d.id >= $1::varchar AND ($2::varchar IS NULL OR d.id < $2::varchar)
         ORDER BY d.id`,
        [from, to],
      ),
    );
    return rows.map(toSubject);
  }

  async products(ids: readonly string[]): Promise<ProductScoringRow[]> {
    if (!ids.length) return [];
    const rows = returningRows<{ id: string; component_type: string; declared_requirements: string[]; target_levels: Record<string, number> }>(
      await this.ds.query(`SELECT id, component_type, declared_requirements, target_levels FROM products WHERE id = ANY($1::uuid[])`, [ids]),
    );
    return rows.map((r) => ({ id: r.id, componentType: r.component_type, declaredRequirements: r.declared_requirements ?? [], targetLevels: r.target_levels }));
  }

  /**
   * Writes scores in one statement: history entries where asked, level columns where asked, each
   * only if the device's latest report and attestation are still the ones the score was computed
   * from (a later rescore of the same device wins, whatever order the writes land in). Returns the
   * ids of the devices written.
   */
  async writeScores(writes: readonly ScoreWrite[]): Promise<Set<string>> {
    if (!writes.length) return new Set();
    const payload = JSON.stringify(
      writes.map((w) => ({
        device_id: w.deviceId,
        evidenced: w.evidenced,
        declared: w.declared,
        items: w.items,
        below_target: w.belowTarget,
        cause: w.cause,
        history: w.history,
        do_update: w.update,
        report_id: w.reportId,
        att_us: w.attestationVersion,
      })),
    );
    const rows = returningRows<{ device_id: string }>(
      await this.ds.query(
        `WITH x AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
             device_id varchar, evidenced jsonb, declared jsonb, items jsonb, below_target boolean, cause varchar,
             history boolean, do_update boolean, report_id uuid, att_us text)
         ), fresh AS (
           SELECT x.* FROM x JOIN devices d ON d.id = x.device_id
           WHERE (extract(epoch FROM d.attestation_at) * 1000000)::bigint::text IS NOT DISTINCT FROM x.att_us
             AND (SELECT h.id FROM hardening_reports h WHERE h.device_id = x.device_id ORDER BY h.received_at DESC LIMIT 1)
                 IS NOT DISTINCT FROM x.report_id
         ), hist AS (
           INSERT INTO device_scores (id, device_id, evidenced, declared, items, below_target, cause)
           SELECT gen_random_uuid(), device_id, evidenced, declared, items, below_target, cause FROM fresh WHERE history
         ), upd AS (
           UPDATE devices d SET sl_evidenced = f.evidenced, sl_declared = f.declared, below_target = f.below_target
           FROM fresh f WHERE d.id = f.device_id AND f.do_update
         )
         SELECT device_id FROM fresh`,
        [payload],
      ),
    );
    return new Set(rows.map((r) => r.device_id));
  }

  /** The newest `limit` history entries of a device, newest first. */
  async history(deviceId: string, limit: number): Promise<ScoreHistoryEntry[]> {
    const rows = returningRows<{ created_at: Date; evidenced: SlVector; declared: SlVector; below_target: boolean; cause: string }>(
      await this.ds.query(
        `SELECT created_at, evidenced, declared, below_target, cause FROM device_scores
         WHERE device_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
        [deviceId, limit],
      ),
    );
    return rows.map((r) => ({ at: r.created_at, evidenced: r.evidenced, declared: r.declared, belowTarget: r.below_target, cause: r.cause }));
  }
}
