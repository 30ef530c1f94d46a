import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence';
import { hardenedReport, withFacts } from '../core/testing/hardening-report.factory';
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
      `INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki, attestation_status, attestation_at, affirmed_at)
       VALUES ($1, $2, $3, 'P-256', '\\x00'::bytea, $4::varchar, CASE WHEN $4::varchar IS NULL THEN NULL ELSE now() END,
               CASE WHEN $5::int IS NULL THEN NULL ELSE now() - make_interval(secs => $5::int) END)`,
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
    const [row] = await ds.query(`SELECT items, cause FROM device_scores WHERE device_id = 'd3'`);
    expect(row).toMatchObject({ cause: 'rescore-all', items: { attestation: 'contraindicated', catalogVersion: '2019-1', rulesVersion: 'fact-rules.v1' } });
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
  });
});
