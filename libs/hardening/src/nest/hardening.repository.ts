import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { returningRows, namedStatement } from '@fleetguard/persistence';
import { deviceLevelsUpdate } from '@fleetguard/fleet/nest';
import type { ApplicabilityStatement, HardeningReport, NegotiatedTlsVersion, ObservedFacts, SlVector } from '../core';
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
  /** The firmware version of the latest affirming appraisal (devices.firmware_version). */
  attestedFirmware: string | null;
  /** The latest attestation result (null: never appraised). */
  attestationResultId: string | null;
  /** What the service saw itself. */
  observed: ObservedFacts;
}

export interface ProductScoringRow {
  id: string;
  componentType: string;
  declaredRequirements: string[];
  targetLevels: Record<string, number>;
  /** The statement of applicability, in requirement order. */
  applicability: ApplicabilityStatement[];
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
  /** Recorded with the history entry: the evidence behind it. */
  attestationResultId: string | null;
  firmwareRelease: string | null;
  rulesVersion: string;
  catalogVersion: string;
}

export interface ScoreHistoryEntry {
  at: Date;
  evidenced: SlVector;
  declared: SlVector;
  belowTarget: boolean;
  cause: string;
  /** The evidence the entry was computed from (null in entries stored before rule set v2). */
  reportId: string | null;
  attestationResultId: string | null;
  firmwareRelease: string | null;
  rulesVersion: string | null;
  catalogVersion: string | null;
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
  firmware_version: string | null;
  result_id: string | null;
  cert_current: boolean;
  cert_renewed: boolean;
  tls_versions: string[] | null;
  ciphers: string[] | null;
  mutual_tls_at: Date | null;
  tpm_quote_at: Date | null;
  attested_releases: string[] | null;
}

const SUBJECT_COLUMNS = `
  d.id, d.product_id, d.manufacturer_org_id, d.operator_org_id, d.status,
  d.attestation_status, d.attestation_at, d.affirmed_at, d.sl_evidenced, d.sl_declared, d.below_target,
  r.report, r.id AS report_id, r.received_at,
  (extract(epoch FROM d.attestation_at) * 1000000)::bigint::text AS att_us,
  d.firmware_version, ar.id AS result_id,
  (d.cert_serial IS NOT NULL AND d.cert_not_after > now()) AS cert_current,
  EXISTS (SELECT 1 FROM certificate_directory c WHERE c.device_id = d.id AND c.status = 'superseded') AS cert_renewed,
  o.tls_versions, o.ciphers, o.mutual_tls_at, o.tpm_quote_at, o.attested_releases`;

const LATEST_REPORT = `
  LEFT JOIN LATERAL (
    SELECT h.id, h.report, h.received_at FROM hardening_reports h
    WHERE h.device_id = d.id ORDER BY h.received_at DESC LIMIT 1
  ) r ON true
  LEFT JOIN LATERAL (
    SELECT a.id FROM attestation_result_directory a WHERE a.device_id = d.id ORDER BY a.created_at DESC LIMIT 1
  ) ar ON true
  LEFT JOIN device_observations o ON o.device_id = d.id`;

const PRODUCT_COLUMNS = `p.id, p.component_type, p.declared_requirements, p.target_levels,
  (SELECT jsonb_agg(jsonb_build_object('requirement', a.requirement, 'applicable', a.applicable, 'justification', a.justification) ORDER BY a.requirement)
     FROM product_applicability a WHERE a.product_id = p.id) AS applicability`;

interface ProductRow {
  id: string;
  component_type: string;
  declared_requirements: string[];
  target_levels: Record<string, number>;
  applicability: ApplicabilityStatement[] | null;
}

function toProduct(r: ProductRow): ProductScoringRow {
  return { id: r.id, componentType: r.component_type, declaredRequirements: r.declared_requirements ?? [], targetLevels: r.target_levels, applicability: r.applicability ?? [] };
}

/** AEAD suites as OpenSSL names them (TLS 1.3 suites are all AEAD). */
const AEAD = /GCM|CCM|CHACHA20|POLY1305|^TLS_AES_|^TLS_CHACHA20_/i;

/** What the service saw itself, as observed facts (absent where it saw nothing). */
export function observedFacts(r: Pick<SubjectRow, 'report' | 'cert_current' | 'cert_renewed' | 'tls_versions' | 'ciphers' | 'mutual_tls_at' | 'tpm_quote_at' | 'attested_releases'>, hasReport: boolean): ObservedFacts {
  const o: ObservedFacts = { hardeningReport: hasReport };
  if (r.cert_current) o.fleetguardCertificate = true;
  if (r.cert_renewed) o.certificateRenewed = true;
  if (r.mutual_tls_at) o.mutualTls = true;
  if (r.tls_versions?.length) o.tlsVersions = r.tls_versions as NegotiatedTlsVersion[];
  if (r.ciphers?.length) o.aeadCiphers = r.ciphers.every((c) => AEAD.test(c));
  if (r.tpm_quote_at) o.tpmResidentKey = true;
  if ((r.attested_releases?.length ?? 0) > 1) o.firmwareUpdated = true;
  return o;
}

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
    attestedFirmware: r.firmware_version,
    attestationResultId: r.result_id,
    observed: observedFacts(r, r.report_id !== null),
  };
}

/**
 * The hardening tables' queries (hardening_reports, device_scores, device_observations,
 * product_applicability). What they need of other libs' tables they read through the owners'
 * views (fleet's device_directory and product_directory, pki's certificate_directory,
 * attestation's attestation_result_directory); the levels on the device row are written by
 * fleet's statement part (deviceLevelsUpdate) inside the score statement. A plain class over a
 * DataSource, so the service and the fleet-wide batch (and its benchmark) run the same SQL, on
 * PostgreSQL and PGlite alike.
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
         SELECT $1::uuid, $2::varchar, $3::jsonb, $4::varchar WHERE EXISTS (SELECT 1 FROM device_directory WHERE id = $2::varchar AND status = 'active')
         RETURNING received_at`,
        [id, deviceId, JSON.stringify(report), channel],
      ),
    );
    return rows.length ? { id, receivedAt: rows[0].received_at } : null;
  }

  async subjects(deviceIds: readonly string[]): Promise<ScoringSubject[]> {
    if (!deviceIds.length) return [];
    const rows = returningRows<SubjectRow>(
      await this.ds.query(`SELECT ${SUBJECT_COLUMNS} FROM device_directory d ${LATEST_REPORT} WHERE d.id = ANY($1::varchar[])`, [deviceIds]),
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
        `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM device_directory WHERE status = 'active') t
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
        `SELECT ${SUBJECT_COLUMNS} FROM device_directory d ${LATEST_REPORT}
         WHERE d.status = 'active' AND d.id >= $1::varchar AND ($2::varchar IS NULL OR d.id < $2::varchar)
         ORDER BY d.id`,
        [from, to],
      ),
    );
    return rows.map(toSubject);
  }

  async products(ids: readonly string[]): Promise<ProductScoringRow[]> {
    if (!ids.length) return [];
    const rows = returningRows<ProductRow>(await this.ds.query(`SELECT ${PRODUCT_COLUMNS} FROM product_directory p WHERE p.id = ANY($1::uuid[])`, [ids]));
    return rows.map(toProduct);
  }

  /**
   * subjects() and the products() of their devices in ONE statement (a rescore's two reads): the
   * products ride as one JSON array on the first row only.
   */
  async subjectsWithProducts(deviceIds: readonly string[]): Promise<{ subjects: ScoringSubject[]; products: Map<string, ProductScoringRow> }> {
    if (!deviceIds.length) return { subjects: [], products: new Map() };
    const rows = returningRows<SubjectRow & { products: ProductRow[] | null }>(
      await this.ds.query(
        `WITH s AS MATERIALIZED (SELECT ${SUBJECT_COLUMNS} FROM device_directory d ${LATEST_REPORT} WHERE d.id = ANY($1::varchar[]))
         SELECT s.*, CASE WHEN row_number() OVER () = 1 THEN
             (SELECT jsonb_agg(to_jsonb(x)) FROM (SELECT ${PRODUCT_COLUMNS} FROM product_directory p WHERE p.id IN (SELECT product_id FROM s)) x)
           END AS products
         FROM s`,
        [deviceIds],
      ),
    );
    const products = new Map((rows[0]?.products ?? []).map((r) => [r.id, toProduct(r)]));
    return { subjects: rows.map(toSubject), products };
  }

  /** The active devices of a product (to rescore after its statement of applicability changed). */
  async activeDeviceIdsOfProduct(productId: string): Promise<string[]> {
    const rows = returningRows<{ id: string }>(await this.ds.query(`SELECT id FROM device_directory WHERE product_id = $1 AND status = 'active' ORDER BY id`, [productId]));
    return rows.map((r) => r.id);
  }

  /** Replaces a product's statement of applicability (already validated) in one statement. */
  async replaceApplicability(productId: string, list: readonly ApplicabilityStatement[]): Promise<void> {
    await this.ds.query(
      `WITH gone AS (DELETE FROM product_applicability WHERE product_id = $1)
       INSERT INTO product_applicability (product_id, requirement, applicable, justification)
       SELECT $1, x.requirement, x.applicable, x.justification FROM jsonb_to_recordset($2::jsonb) AS x(requirement varchar, applicable boolean, justification varchar)`,
      [productId, JSON.stringify(list)],
    );
  }

  /**
   * Records what the service saw on devices' TLS connections (negotiated version and cipher,
   * client certificate), one device at most once per call, in one statement. For each: true when
   * a fact the score reads changed (a first sighting, a version or cipher not seen before, mutual
   * TLS seen for the first time); a reconnect that shows nothing new only moves `tls_seen_at`, and
   * its device needs no rescore. False for an unknown device (nothing is stored for it).
   */
  async recordTlsMany(seen: ReadonlyArray<{ deviceId: string; version: NegotiatedTlsVersion; cipher: string; mutual: boolean }>): Promise<boolean[]> {
    if (!seen.length) return [];
    // `prev` reads the rows as they stood before this statement (one snapshot for the whole statement).
    const rows: Array<{ device_id: string; changed: boolean }> = await this.ds.query(
      namedStatement('hardening.record-tls-many', `WITH input AS (SELECT * FROM unnest($1::varchar[], $2::text[], $3::text[], $4::boolean[]) AS t(device_id, version, cipher, mutual)),
       prev AS (SELECT o.device_id, o.tls_versions, o.ciphers, o.mutual_tls_at FROM device_observations o JOIN input i ON i.device_id = o.device_id),
       up AS (
         INSERT INTO device_observations (device_id, tls_versions, ciphers, mutual_tls_at, tls_seen_at)
         SELECT i.device_id, jsonb_build_array(i.version), jsonb_build_array(i.cipher), CASE WHEN i.mutual THEN now() END, now()
           FROM input i WHERE EXISTS (SELECT 1 FROM device_directory d WHERE d.id = i.device_id)
         ON CONFLICT (device_id) DO UPDATE SET
           tls_versions = CASE WHEN device_observations.tls_versions @> EXCLUDED.tls_versions THEN device_observations.tls_versions ELSE device_observations.tls_versions || EXCLUDED.tls_versions END,
           ciphers = CASE WHEN device_observations.ciphers @> EXCLUDED.ciphers THEN device_observations.ciphers ELSE device_observations.ciphers || EXCLUDED.ciphers END,
           mutual_tls_at = COALESCE(EXCLUDED.mutual_tls_at, device_observations.mutual_tls_at),
           tls_seen_at = now(), updated_at = now()
         RETURNING device_id)
       SELECT up.device_id, NOT EXISTS (
         SELECT 1 FROM prev p JOIN input i ON i.device_id = p.device_id
          WHERE p.device_id = up.device_id AND p.tls_versions ? i.version AND p.ciphers ? i.cipher AND (NOT i.mutual OR p.mutual_tls_at IS NOT NULL)
       ) AS changed
         FROM up`),
      [seen.map((s) => s.deviceId), seen.map((s) => s.version), seen.map((s) => s.cipher), seen.map((s) => s.mutual)],
    );
    const changed = new Map(rows.map((r) => [r.device_id, r.changed === true]));
    return seen.map((s) => changed.get(s.deviceId) ?? false);
  }

  /**
   * What affirming results showed (their release joins the attested releases, a verified TPM
   * quote its time), for many results in one statement: grouped per device (one upsert per row),
   * a release already listed is not listed twice, new ones are appended (in version order within one call).
   * A row that would not change (the release listed already, no newer quote: most results) is not
   * written again, so re-affirming the same release costs no new row version and no WAL.
   */
  async recordAttestations(results: ReadonlyArray<{ deviceId: string; resultId: string }>): Promise<void> {
    if (!results.length) return;
    await this.ds.query(
      namedStatement('hardening.record-attestations', `INSERT INTO device_observations (device_id, attested_releases, tpm_quote_at)
       SELECT a.device_id,
              COALESCE(jsonb_agg(DISTINCT a.firmware_version) FILTER (WHERE a.firmware_version IS NOT NULL), '[]'::jsonb),
              max(CASE WHEN a.tpm_quoted THEN a.created_at END)
         FROM attestation_result_directory a JOIN unnest($1::uuid[], $2::varchar[]) AS t(id, device_id) ON a.id = t.id AND a.device_id = t.device_id
        WHERE a.status = 'affirming'
        GROUP BY a.device_id
       ON CONFLICT (device_id) DO UPDATE SET
         attested_releases = device_observations.attested_releases || COALESCE(
           (SELECT jsonb_agg(v) FROM jsonb_array_elements(EXCLUDED.attested_releases) v WHERE NOT device_observations.attested_releases @> jsonb_build_array(v)), '[]'::jsonb),
         tpm_quote_at = GREATEST(EXCLUDED.tpm_quote_at, device_observations.tpm_quote_at), updated_at = now()
       WHERE NOT device_observations.attested_releases @> EXCLUDED.attested_releases
          OR EXCLUDED.tpm_quote_at > COALESCE(device_observations.tpm_quote_at, '-infinity'::timestamptz)`),
      [results.map((r) => r.resultId), results.map((r) => r.deviceId)],
    );
  }

  /**
   * Writes scores in one statement: history entries where asked, level columns where asked
   * (fleet's deviceLevelsUpdate, one CTE of the statement), each only if the device's latest
   * report and attestation are still the ones the score was computed
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
        result_id: w.attestationResultId,
        firmware_release: w.firmwareRelease,
        rules_version: w.rulesVersion,
        catalog_version: w.catalogVersion,
      })),
    );
    const rows = returningRows<{ device_id: string }>(
      await this.ds.query(
        namedStatement('hardening.write-scores', `WITH x AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
             device_id varchar, evidenced jsonb, declared jsonb, items jsonb, below_target boolean, cause varchar,
             history boolean, do_update boolean, report_id uuid, att_us text, result_id uuid, firmware_release varchar,
             rules_version varchar, catalog_version varchar)
         ), fresh AS (
           SELECT x.* FROM x JOIN device_directory d ON d.id = x.device_id
           WHERE (extract(epoch FROM d.attestation_at) * 1000000)::bigint::text IS NOT DISTINCT FROM x.att_us
             AND (SELECT h.id FROM hardening_reports h WHERE h.device_id = x.device_id ORDER BY h.received_at DESC LIMIT 1)
                 IS NOT DISTINCT FROM x.report_id
         ), hist AS (
           INSERT INTO device_scores (id, device_id, evidenced, declared, items, below_target, cause,
             report_id, attestation_result_id, firmware_release, rules_version, catalog_version)
           SELECT gen_random_uuid(), device_id, evidenced, declared, items, below_target, cause,
             report_id, result_id, firmware_release, rules_version, catalog_version FROM fresh WHERE history
         ), upd AS (
           ${deviceLevelsUpdate('fresh', 'l.do_update')}
         )
         SELECT device_id FROM fresh`),
        [payload],
      ),
    );
    return new Set(rows.map((r) => r.device_id));
  }

  /** The newest `limit` history entries of a device, newest first. */
  async history(deviceId: string, limit: number): Promise<ScoreHistoryEntry[]> {
    const rows = returningRows<{
      created_at: Date; evidenced: SlVector; declared: SlVector; below_target: boolean; cause: string;
      report_id: string | null; attestation_result_id: string | null; firmware_release: string | null; rules_version: string | null; catalog_version: string | null;
    }>(
      await this.ds.query(
        `SELECT created_at, evidenced, declared, below_target, cause, report_id, attestation_result_id, firmware_release, rules_version, catalog_version
         FROM device_scores WHERE device_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
        [deviceId, limit],
      ),
    );
    return rows.map((r) => ({
      at: r.created_at,
      evidenced: r.evidenced,
      declared: r.declared,
      belowTarget: r.below_target,
      cause: r.cause,
      reportId: r.report_id,
      attestationResultId: r.attestation_result_id,
      firmwareRelease: r.firmware_release,
      rulesVersion: r.rules_version,
      catalogVersion: r.catalog_version,
    }));
  }
}
