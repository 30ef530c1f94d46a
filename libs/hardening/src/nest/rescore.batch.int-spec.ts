import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { hardenedReport, withFacts } from '@fleetguard/device-kit';
import { testDatabase } from '../../../../test/support/test-database';
import { HardeningRepository } from './hardening.repository';
import { planWrite, productScoring, rescoreAll, scoreSubject, type ScoreChange } from './rescore.batch';
import { ScorerCache } from './scorer.cache';

const TARGET = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };

describe('stored scoring on the real schema (PGlite, or PostgreSQL with FLEETGUARD_TEST_PG)', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  let repo: HardeningRepository;
  const org = randomUUID();
  const edr = randomUUID();
  const sar = randomUUID();

  async function device(id: string, productId: string, over: { attestation?: string | null; affirmedAgoSeconds?: number } = {}) {
    await ds.query(
      `INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki, attestation_status, attestation_at, affirmed_at, firmware_version)
       VALUES ($1, $2, $3, 'P-256', '\\x00'::bytea, $4::varchar, CASE WHEN $4::varchar IS NULL THEN NULL ELSE now() END,
               CASE WHEN $5::int IS NULL THEN NULL ELSE now() - make_interval(secs => $5::int) END, CASE WHEN $5::int IS NULL THEN NULL ELSE '2.4.1' END)`,
      [id, productId, org, over.attestation ?? null, over.affirmedAgoSeconds ?? null],
    );
  }

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings));
    await ds.initialize();
    await runMigrations(ds);
    repo = new HardeningRepository(ds);
    await ds.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, 'acme', 'manufacturer')`, [org]);
    for (const [id, type, declared] of [
      [edr, 'EDR', ['CR 3.4', 'EDR 3.14']],
      [sar, 'SAR', []],
    ] as const) {
      await ds.query(
        `INSERT INTO products (id, organization_id, name, component_type, declared_requirements, target_levels) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
        [id, org, `p-${type}`, type, JSON.stringify(declared), JSON.stringify(TARGET)],
      );
    }
    // Seven active devices (one without a report, one stale, one contraindicated) and a revoked one.
    await device('d1', edr, { attestation: 'affirming', affirmedAgoSeconds: 5 });
    await device('d2', edr, { attestation: 'affirming', affirmedAgoSeconds: 3600 });
    await device('d3', edr, { attestation: 'contraindicated', affirmedAgoSeconds: 5 });
    await device('d4', edr);
    await device('d5', sar, { attestation: 'affirming', affirmedAgoSeconds: 5 });
    await device('d6', sar);
    await device('d7', edr, { attestation: 'affirming', affirmedAgoSeconds: 5 });
    await device('d8', edr);
    for (const id of ['d1', 'd2', 'd3', 'd5', 'd6', 'd8']) expect(await repo.insertReport(id, hardenedReport(), 'http')).not.toBeNull();
    await ds.query(`UPDATE devices SET status = 'revoked' WHERE id = 'd8'`);
    // d7: an older report, then the latest one (contradicting CR 1.5).
    await repo.insertReport('d7', hardenedReport(), 'mqtt');
    await repo.insertReport('d7', withFacts(hardenedReport(), { defaultCredentialsChanged: false }), 'mqtt');
  });
  afterAll(async () => {
    await ds?.destroy();
    await drop?.();
  });

  const levels = async (id: string) =>
    (await ds.query(`SELECT sl_evidenced, sl_declared, below_target FROM devices WHERE id = $1`, [id]))[0] as {
      sl_evidenced: Record<string, number> | null;
      sl_declared: Record<string, number> | null;
      below_target: boolean | null;
    };
  const historyCount = async () => (await ds.query(`SELECT count(*)::int AS n FROM device_scores`))[0].n as number;

  it('refuses a report for a revoked or unknown device', async () => {
    expect(await repo.insertReport('d8', hardenedReport(), 'http')).toBeNull();
    expect(await repo.insertReport('nobody', hardenedReport(), 'http')).toBeNull();
  });

  it('reads a device with its latest report', async () => {
    const [d7] = await repo.subjects(['d7']);
    expect(d7.report?.defaultCredentialsChanged).toBe(false);
    const [d4] = await repo.subjects(['d4']);
    expect(d4).toMatchObject({ report: null, reportId: null, attestationVersion: null });
  });

  it('rescores every active device in keyset batches, in one statement per batch', async () => {
    const changes: ScoreChange[] = [];
    const r = await rescoreAll(repo, new ScorerCache(), { intervalSeconds: 300, batchSize: 3, onChanges: (c) => void changes.push(...c) });
    expect(r).toMatchObject({ devices: 7, written: 7, changed: 7, batches: 3 });
    expect(changes.map((c) => c.deviceId).sort()).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7']);
    expect(await historyCount()).toBe(7);

    expect(await levels('d1')).toMatchObject({ sl_evidenced: { FR1: 4, FR3: 4 }, below_target: false });
    // Stale and contraindicated: the integrity items are contradicted, declared or not.
    for (const id of ['d2', 'd3']) expect(await levels(id)).toMatchObject({ sl_evidenced: { FR3: 0 }, sl_declared: { FR3: 0 }, below_target: true });
    // No report: no facts; declared items still count in the declared vector only.
    expect(await levels('d4')).toMatchObject({ sl_evidenced: { FR1: 0 }, below_target: true });
    expect(await levels('d7')).toMatchObject({ sl_evidenced: { FR1: 0 }, below_target: true });
    expect(await levels('d8')).toMatchObject({ sl_evidenced: null });
    const [row] = await ds.query(`SELECT items, cause, rules_version, catalog_version, firmware_release, report_id FROM device_scores WHERE device_id = 'd3'`);
    expect(row).toMatchObject({
      cause: 'rescore-all',
      items: { attestation: 'contraindicated', catalogVersion: '2019-1.1', rulesVersion: 'fact-rules.v2' },
      rules_version: 'fact-rules.v2',
      catalog_version: '2019-1.1',
      firmware_release: '2.4.1',
    });
    expect(row.report_id).toBe((await repo.subjects(['d3']))[0].reportId);
  });

  it('writes nothing the second time, unless history is forced', async () => {
    const before = await historyCount();
    expect(await rescoreAll(repo, new ScorerCache(), { intervalSeconds: 300, batchSize: 3 })).toMatchObject({ devices: 7, written: 0, changed: 0 });
    expect(await historyCount()).toBe(before);
    expect(await rescoreAll(repo, new ScorerCache(), { intervalSeconds: 300, forceHistory: true })).toMatchObject({ written: 7, changed: 0, batches: 1 });
    expect(await historyCount()).toBe(before + 7);
  });

  it('skips a write computed from a report or an attestation that has been superseded since', async () => {
    const cache = new ScorerCache();
    const [[product]] = [await repo.products([edr])];
    const p = productScoring(cache, product);
    const clock = { now: new Date(), intervalSeconds: 300 };
    const [before] = await repo.subjects(['d1']);

    // A newer report lands between the read and the write.
    await repo.insertReport('d1', withFacts(hardenedReport(), { 'secureBoot.enabled': false }), 'http');
    const stale = planWrite(before, scoreSubject(before, p, clock), p.target, 'report', true);
    expect((await repo.writeScores([stale.write])).size).toBe(0);

    // A newer attestation result lands between the read and the write.
    const [current] = await repo.subjects(['d1']);
    await ds.query(`UPDATE devices SET attestation_at = now() + interval '1 second' WHERE id = 'd1'`);
    const late = planWrite(current, scoreSubject(current, p, clock), p.target, 'report', true);
    expect((await repo.writeScores([late.write])).size).toBe(0);

    const [latest] = await repo.subjects(['d1']);
    const ok = planWrite(latest, scoreSubject(latest, p, clock), p.target, 'report', true);
    expect([...(await repo.writeScores([ok.write]))]).toEqual(['d1']);
    expect(await levels('d1')).toMatchObject({ sl_evidenced: { FR3: 0 } }); // secure boot off contradicts EDR 3.14
  });

  it('returns the history newest first', async () => {
    const h = await repo.history('d1', 50);
    expect(h.length).toBeGreaterThanOrEqual(3);
    expect(h[0].at.getTime()).toBeGreaterThanOrEqual(h[h.length - 1].at.getTime());
    expect(h[0]).toMatchObject({ cause: 'report', evidenced: { FR3: 0 } });
    expect(await repo.history('d1', 2)).toHaveLength(2);
    expect(h[h.length - 1]).toMatchObject({ rulesVersion: 'fact-rules.v2', catalogVersion: '2019-1.1', firmwareRelease: '2.4.1' });
  });

  /** An attestation result stored as attestation writes it (with a TPM quote in its claims or not). */
  const storedResult = async (id: string, status: string, fw: string, tpm: boolean) => {
    const rid = randomUUID();
    await ds.query(
      `INSERT INTO attestation_results (id, device_id, status, trust_vector, reasons, firmware_version, evidence, claims, ear)
       VALUES ($1, $2, $3, '{}'::jsonb, '[]'::jsonb, $4, 'x', $5::jsonb, 'x')`,
      [rid, id, status, fw, JSON.stringify(tpm ? { tpm: { quote: 'q', signature: 's' } } : { fw: {} })],
    );
    return { deviceId: id, resultId: rid };
  };

  it('records observations (TLS, mutual TLS, attested releases, TPM quotes) and reads them back as observed facts', async () => {
    // Each call says whether a fact the score reads changed: a reconnect that shows nothing new does not.
    const recordTls = async (deviceId: string, version: '1.2' | '1.3', cipher: string, mutual: boolean) => (await repo.recordTlsMany([{ deviceId, version, cipher, mutual }]))[0];
    expect(await recordTls('d5', '1.3', 'TLS_AES_256_GCM_SHA384', false)).toBe(true); // first sighting
    expect(await recordTls('d5', '1.3', 'TLS_AES_256_GCM_SHA384', false)).toBe(false);
    expect(await recordTls('d5', '1.3', 'TLS_AES_256_GCM_SHA384', true)).toBe(true); // mutual TLS for the first time
    expect(await recordTls('d5', '1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256', true)).toBe(true); // a new version and cipher
    expect(await recordTls('d5', '1.3', 'ECDHE-ECDSA-AES128-GCM-SHA256', true)).toBe(false);
    expect(await recordTls('d5', '1.3', 'TLS_AES_256_GCM_SHA384', false)).toBe(false); // mutual TLS stays seen
    expect(await recordTls('nobody', '1.3', 'TLS_AES_256_GCM_SHA384', true)).toBe(false); // unknown device: nothing stored
    // Many devices in one statement: each told apart, an unknown one among them stores nothing.
    expect(
      await repo.recordTlsMany([
        { deviceId: 'd6', version: '1.3', cipher: 'TLS_AES_256_GCM_SHA384', mutual: true },
        { deviceId: 'nobody', version: '1.3', cipher: 'TLS_AES_256_GCM_SHA384', mutual: true },
        { deviceId: 'd5', version: '1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256', mutual: true },
      ]),
    ).toEqual([true, false, false]);
    const result = async (id: string, status: string, fw: string, tpm: boolean) => {
      const r = await storedResult(id, status, fw, tpm);
      await repo.recordAttestations([r]);
      return r.resultId;
    };
    await result('d5', 'affirming', '1.0.0', false);
    await result('d5', 'contraindicated', '6.6.6', true); // a failed appraisal shows nothing
    const last = await result('d5', 'affirming', '1.1.0', true);
    const [d5] = await repo.subjects(['d5']);
    expect(d5.attestationResultId).toBe(last);
    expect(d5.observed).toEqual({ hardeningReport: true, mutualTls: true, tlsVersions: ['1.3', '1.2'], aeadCiphers: true, tpmResidentKey: true, firmwareUpdated: true });
    expect((await ds.query(`SELECT count(*)::int AS n FROM device_observations WHERE device_id = 'nobody'`))[0].n).toBe(0);
  });

  it('records the observations of many results in one statement: per device, each release once, in the order first attested', async () => {
    const releases = async (id: string) => (await ds.query(`SELECT attested_releases FROM device_observations WHERE device_id = $1`, [id]))[0]?.attested_releases;
    await repo.recordAttestations([await storedResult('d6', 'affirming', '3.0.0', false)]);
    // One call: two results of d6 (one release already listed, one new), one of d8 with a quote, a failed one of d8.
    await repo.recordAttestations([
      await storedResult('d6', 'affirming', '3.0.0', false),
      await storedResult('d6', 'affirming', '3.1.0', false),
      await storedResult('d8', 'affirming', '1.0.0', true),
      await storedResult('d8', 'contraindicated', '6.6.6', true),
    ]);
    expect(await releases('d6')).toEqual(['3.0.0', '3.1.0']);
    expect(await releases('d8')).toEqual(['1.0.0']);
    const [d8] = await repo.subjects(['d8']);
    expect(d8.observed).toMatchObject({ tpmResidentKey: true });
    const [d6] = await repo.subjects(['d6']);
    expect(d6.observed.tpmResidentKey).toBeUndefined();
    expect(d6.observed.firmwareUpdated).toBe(true);
  });

  it('does not write a row again that would not change (the release listed already, no newer quote)', async () => {
    const version = async (id: string) => (await ds.query(`SELECT xmin::text AS v, attested_releases, tpm_quote_at FROM device_observations WHERE device_id = $1`, [id]))[0];
    await repo.recordAttestations([await storedResult('d6', 'affirming', '3.1.0', false)]);
    const first = await version('d6');
    await repo.recordAttestations([await storedResult('d6', 'affirming', '3.1.0', false)]);
    expect(await version('d6')).toEqual(first);
    // A TPM quote, then a newer one: each is written.
    await repo.recordAttestations([await storedResult('d6', 'affirming', '3.1.0', true)]);
    const quoted = await version('d6');
    expect(quoted.v).not.toBe(first.v);
    expect(quoted.tpm_quote_at).not.toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    await repo.recordAttestations([await storedResult('d6', 'affirming', '3.1.0', true)]);
    const again = await version('d6');
    expect(new Date(again.tpm_quote_at).getTime()).toBeGreaterThan(new Date(quoted.tpm_quote_at).getTime());
    expect(again.attested_releases).toEqual(['3.0.0', '3.1.0']);
  });

  it('stores and reads back a product statement of applicability', async () => {
    await repo.replaceApplicability(edr, [{ requirement: 'CR 1.14', applicable: false, justification: 'no symmetric keys' }]);
    await repo.replaceApplicability(edr, [
      { requirement: 'CR 2.2', applicable: false, justification: 'no wireless' },
      { requirement: 'CR 1.12', applicable: true, justification: 'local HMI' },
    ]);
    const [p] = await repo.products([edr]);
    expect(p.applicability).toEqual([
      { requirement: 'CR 1.12', applicable: true, justification: 'local HMI' },
      { requirement: 'CR 2.2', applicable: false, justification: 'no wireless' },
    ]);
    const [sarRow] = await repo.products([sar]);
    expect(sarRow.applicability).toEqual([]);
  });

  it('reads subjects and their products in one statement as the two reads give them', async () => {
    const ids = ['d1', 'd2', 'd3', 'd5', 'd6', 'nobody'];
    const both = await repo.subjectsWithProducts(ids);
    const byId = (list: Array<{ deviceId: string }>) => [...list].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    expect(byId(both.subjects)).toEqual(byId(await repo.subjects(ids)));
    const productIds = [...new Set(both.subjects.map((x) => x.productId))];
    expect(productIds.length).toBe(2); // EDR and SAR
    expect([...both.products.keys()].sort()).toEqual([...productIds].sort());
    for (const p of await repo.products(productIds)) expect(both.products.get(p.id)).toEqual(p);
    expect(await repo.subjectsWithProducts(['nobody'])).toEqual({ subjects: [], products: new Map() });
  });
});
