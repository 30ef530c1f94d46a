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

describe('migrations', () => {
  it('apply on an empty embedded PGlite database, then again as a no-op', async () => {
    const ds = new DataSource(buildDataSourceOptions({ dataDir: '/tmp', inMemory: true }));
    await ds.initialize();
    try {
      const first = await runMigrations(ds);
      expect(first).toHaveLength(ALL_MIGRATIONS.length);
      expect(await tables(ds)).toEqual(expect.arrayContaining(['organizations', 'api_keys', 'audit_log', 'products']));
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
      expect(await runMigrations(a)).toEqual([]);
    } finally {
      await a.destroy();
      await b.destroy();
      await db.drop();
    }
  });
});
