import * as path from 'node:path';
import * as fs from 'node:fs';
import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';
import { isDatabaseUnavailable } from '@fleetguard/common';
import { pgliteDriver } from './pglite-serial.pool';
import { privateDirectory } from '../core/private-directory';
import { ALL_MIGRATIONS } from '../migrations';

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

/**
 * Connects to PostgreSQL, waiting with backoff (1 s doubling to 15 s) while the server is not
 * reachable — a service started before its database (boot order, a restart of both) comes up
 * instead of exiting. Errors that are not about reachability (bad password, unknown database)
 * fail at once.
 */
export async function connectWithBackoff(make: () => DataSource, onWait: (attempt: number, delayMs: number, e: unknown) => void, maxDelayMs = 15_000): Promise<DataSource> {
  for (let attempt = 1; ; attempt++) {
    const ds = make();
    try {
      return await ds.initialize();
    } catch (e) {
      if (!isDatabaseUnavailable(e)) throw e;
      await ds.destroy().catch(() => undefined);
      const delay = Math.min(maxDelayMs, 1000 * 2 ** Math.min(attempt - 1, 10));
      onWait(attempt, delay, e);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Opens the embedded database. PGlite cannot start on a full disk and says only
 * "RuntimeError: Aborted()": when the data directory has little room left, say that instead.
 */
export async function openEmbedded(options: DataSourceOptions, dataDir?: string): Promise<DataSource> {
  const ds = new DataSource(options);
  try {
    return await ds.initialize();
  } catch (e) {
    const dir = dataDir ?? process.cwd();
    let free: number | undefined;
    try {
      const st = fs.statfsSync(dir);
      free = st.bavail * st.bsize;
    } catch {
      /* unknown */
    }
    if (free !== undefined && free < 64 * 1024 * 1024) {
      throw new Error(`the embedded database cannot start: the disk holding ${dir} has ${Math.round(free / 1024 / 1024)} MiB free (free some space and start again). Cause: ${(e as Error).message}`);
    }
    throw e;
  }
}
