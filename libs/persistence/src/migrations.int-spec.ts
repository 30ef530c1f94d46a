import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from './nest/data-source.factory';
import { ALL_MIGRATIONS } from './migrations';
import { createPostgresDatabase } from '../../../test/support/test-database';

const PG_SERVER = process.env.FLEETGUARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function tables(ds: DataSource): Promise<string[]> {
  const rows: Array<{ table_name: string }> = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

/** The storage options of the tables the appraisal's hot path updates (hot-path-storage, hot-nonce-observation-updates). */
async function hotPathStorage(ds: DataSource): Promise<Record<string, string[]>> {
  const rows: Array<{ relname: string; reloptions: string[] | string | null }> = await ds.query(
    `SELECT relname, reloptions FROM pg_class WHERE relname IN ('devices', 'nonces', 'device_observations', 'attestation_results') AND relkind = 'r' ORDER BY relname`,
  );
  // pg gives text[] as an array; PGlite may give its literal ({a=1,b=2}).
  const list = (v: string[] | string | null) => (v === null ? [] : Array.isArray(v) ? v : v.replace(/^\{|\}$/g, '').split(',').filter(Boolean));
  return Object.fromEntries(rows.map((r) => [r.relname, list(r.reloptions).sort()]));
}

const HOT_PATH_STORAGE = {
  attestation_results: ['toast_tuple_target=8160'],
  device_observations: ['fillfactor=60'],
  devices: ['fillfactor=60'],
  nonces: ['fillfactor=60'],
};

describe('migrations', () => {
  it('apply on an empty embedded PGlite database, then again as a no-op', async () => {
    const ds = new DataSource(buildDataSourceOptions({ dataDir: '/tmp', inMemory: true }));
    await ds.initialize();
    try {
      const first = await runMigrations(ds);
      expect(first).toHaveLength(ALL_MIGRATIONS.length);
      expect(await tables(ds)).toEqual(expect.arrayContaining(['organizations', 'api_keys', 'audit_log', 'products']));
      expect(await hotPathStorage(ds)).toEqual(HOT_PATH_STORAGE);
      expect(await runMigrations(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('apply on an empty PostgreSQL database, then again as a no-op, also when two instances start together', async () => {
    const db = await createPostgresDatabase(PG_SERVER);
    const a = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
    const b = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
    await Promise.all([a.initialize(), b.initialize()]);
    try {
      const [ra, rb] = await Promise.all([runMigrations(a), runMigrations(b)]);
      // Exactly one of the two applied everything; the other found nothing left to do.
      expect([ra.length, rb.length].sort()).toEqual([0, ALL_MIGRATIONS.length]);
      expect(await tables(a)).toEqual(expect.arrayContaining(['organizations', 'api_keys', 'audit_log', 'products']));
      expect(await hotPathStorage(a)).toEqual(HOT_PATH_STORAGE);
      expect(await runMigrations(a)).toEqual([]);
    } finally {
      await a.destroy();
      await b.destroy();
      await db.drop();
    }
  });
});
