import * as path from 'node:path';
import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';
import { pgliteDriver } from './pglite-serial.pool';
import { privateDirectory } from './private-directory';
import { ALL_MIGRATIONS } from './migrations';

export interface DatabaseSettings {
  /** PostgreSQL server; unset = embedded PGlite under dataDir/pglite. */
  databaseUrl?: string;
  dataDir: string;
  /** In-memory PGlite (tests). */
  inMemory?: boolean;
}

export function isEmbedded(s: DatabaseSettings): boolean {
  return !s.databaseUrl;
}

/** One options builder for the service, the migration CLI and the tests: the same migrations on both engines. */
export function buildDataSourceOptions(s: DatabaseSettings, entities: DataSourceOptions['entities'] = []): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities,
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'fleetguard_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
  };
  if (s.databaseUrl) {
    return { ...common, url: s.databaseUrl, poolSize: 10 };
  }
  let dir: string | undefined;
  if (!s.inMemory) {
    privateDirectory(s.dataDir);
    dir = path.join(s.dataDir, 'pglite');
    privateDirectory(dir, true);
  }
  return { ...common, driver: pgliteDriver(dir) } as DataSourceOptions;
}

const MIGRATION_LOCK_KEY = 0x466c6774; // 'Flgt'

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so two instances starting together
 * take turns (the second finds nothing left to do). On PGlite the process holds the database
 * alone (see EmbeddedLock), so the lock is a formality there but runs the same SQL.
 */
export async function runMigrations(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      // The runner holds the (PGlite) session: run the migrations through it, not through a second one.
      const executor = new MigrationExecutor(ds, runner);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
