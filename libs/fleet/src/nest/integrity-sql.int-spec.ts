import { DataSource } from 'typeorm';
import { INTEGRITY_STATUSES, integritySql, integrityStatus, lacksFreshAffirmation, lacksFreshAffirmationSql, staleCutoff, type IntegrityFacts } from '@fleetguard/common';
import { buildDataSourceOptions } from '@fleetguard/persistence/nest';
import { testDatabase } from '../../../../test/support/test-database';

/**
 * The kernel's integrity rule in SQL (what the fleet list filters and the summary counts with)
 * against the same rule in TypeScript (what each listed device shows), on the engine the suite
 * runs on (PGlite, or PostgreSQL with FLEETGUARD_TEST_PG): every combination of status, last
 * verdict and affirmation age, the window's edge included.
 */
describe('integritySql agrees with integrityStatus', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  const now = new Date('2025-06-01T12:00:00Z');
  const interval = 300;
  const ago = (s: number) => new Date(now.getTime() - s * 1000);

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings, []));
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await drop();
  });

  const facts: IntegrityFacts[] = [];
  for (const status of ['active', 'revoked']) {
    for (const attestationStatus of [null, 'affirming', 'warning', 'contraindicated', 'none']) {
      for (const affirmedAt of [null, ago(0), ago(599), ago(600), ago(601), ago(86_400)]) facts.push({ status, attestationStatus, affirmedAt });
    }
  }

  it('on every combination, the window edge included', async () => {
    const names = { status: 'v.status', attestationStatus: 'v.attestation_status', affirmedAt: 'v.affirmed_at', cutoff: '$1::timestamptz' };
    const rows = facts.map((_, i) => `($${3 * i + 2}::varchar, $${3 * i + 3}::varchar, $${3 * i + 4}::timestamptz, ${i})`).join(', ');
    const params = [staleCutoff(now, interval), ...facts.flatMap((f) => [f.status, f.attestationStatus, f.affirmedAt])];
    const got: Array<{ i: number; integrity: string; lacks: boolean }> = await ds.query(
      `SELECT v.i, ${integritySql(names)} AS integrity, ${lacksFreshAffirmationSql(names)} AS lacks
       FROM (VALUES ${rows}) AS v(status, attestation_status, affirmed_at, i) ORDER BY v.i`,
      params,
    );
    expect(got.map((r) => [r.integrity, r.lacks])).toEqual(facts.map((f) => [integrityStatus(f, now, interval), lacksFreshAffirmation(f, now, interval)]));
    // the grid reaches every status, so a rule that loses one cannot pass
    expect(new Set(got.map((r) => r.integrity))).toEqual(new Set(INTEGRITY_STATUSES));
  });
});
