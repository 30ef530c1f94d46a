import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { testDatabase } from '../../../../test/support/test-database';
import { LifecycleRepository, releaseKey } from './lifecycle.repository';

/**
 * The read a device recompute makes (findings of several releases and the stored exposures of a
 * burst's devices, in one statement) on the real schema (PGlite, or PostgreSQL with
 * FLEETGUARD_TEST_PG).
 */
describe('lifecycle exposure inputs on the real schema', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  let repo: LifecycleRepository;
  const org = randomUUID();
  const productA = randomUUID();
  const productB = randomUUID();
  const adv1 = randomUUID();
  const adv2 = randomUUID();
  const adv3 = randomUUID();

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings));
    await ds.initialize();
    await runMigrations(ds);
    repo = new LifecycleRepository(ds);
    await ds.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, 'acme', 'manufacturer')`, [org]);
    for (const p of [productA, productB]) {
      await ds.query(`INSERT INTO products (id, organization_id, name, component_type, target_levels) VALUES ($1, $2, $3, 'EDR', '{}'::jsonb)`, [p, org, `p-${p}`]);
    }
    for (const a of [adv1, adv2, adv3]) {
      await ds.query(
        `INSERT INTO advisories (id, organization_id, tracking_id, tracking_version, title, category, publisher, products, statements, vulnerabilities, document)
         VALUES ($1, $2, $3, '1', 't', 'csaf_security_advisory', 'acme', '[]', '[]', '[]', '{}')`,
        [a, org, `T-${a}`],
      );
    }
    const finding = async (a: string, p: string, v: string) =>
      ds.query(`INSERT INTO release_findings (advisory_id, product_id, version, findings) VALUES ($1, $2, $3, '[]'::jsonb)`, [a, p, v]);
    await finding(adv1, productA, '1.0.0');
    await finding(adv2, productA, '1.0.0');
    await finding(adv3, productB, '2.0.0');
    await finding(adv3, productA, '9.9.9'); // a release nobody asks about
    const exposure = async (d: string, a: string, p: string, v: string) =>
      ds.query(`INSERT INTO device_exposures (device_id, advisory_id, product_id, version) VALUES ($1, $2, $3, $4)`, [d, a, p, v]);
    await exposure('dev-1', adv1, productA, '1.0.0');
    await exposure('dev-2', adv3, productB, '2.0.0');
    await exposure('dev-other', adv2, productA, '1.0.0'); // not in the burst
  });
  afterAll(async () => {
    await ds?.destroy();
    await drop?.();
  });

  it('answers the findings of each release asked and the exposures of each device asked, nothing else', async () => {
    const { findings, stored } = await repo.exposureInputs(
      [
        { productId: productA, version: '1.0.0' },
        { productId: productB, version: '2.0.0' },
        { productId: productB, version: '3.0.0' }, // no findings
      ],
      ['dev-1', 'dev-2', 'dev-3'],
    );
    expect([...findings.keys()].sort()).toEqual([releaseKey(productA, '1.0.0'), releaseKey(productB, '2.0.0')].sort());
    expect(findings.get(releaseKey(productA, '1.0.0'))!.sort()).toEqual([adv1, adv2].sort());
    expect(findings.get(releaseKey(productB, '2.0.0'))).toEqual([adv3]);
    expect([...stored.keys()].sort()).toEqual(['dev-1', 'dev-2']);
    expect(stored.get('dev-1')).toEqual([{ advisoryId: adv1, version: '1.0.0' }]);
    expect(stored.get('dev-2')).toEqual([{ advisoryId: adv3, version: '2.0.0' }]);
  });

  it('takes devices without releases (none affirmed) and nothing at all', async () => {
    const some = await repo.exposureInputs([], ['dev-2']);
    expect(some.findings.size).toBe(0);
    expect(some.stored.get('dev-2')).toEqual([{ advisoryId: adv3, version: '2.0.0' }]);
    const none = await repo.exposureInputs([], []);
    expect(none.findings.size + none.stored.size).toBe(0);
  });
});
