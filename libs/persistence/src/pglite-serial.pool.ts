import { PGlite } from '@electric-sql/pglite';
import { PGliteDriver, getPGliteInstance } from 'typeorm-pglite';
import { PGlitePool } from 'typeorm-pglite/dist/pglite-pool';

/**
 * PGlite is one Postgres session in process. typeorm-pglite hands that one session to every
 * TypeORM query runner at once, so two concurrent transactions would interleave on it (a
 * rollback of one would undo the other's writes). This pool makes the session exclusive: a
 * query runner holds it from connect until release, the others queue. It also fills in the
 * `rowCount`/`command` fields node-postgres gives and TypeORM reads for UPDATE/DELETE results.
 */
class SerialPGlitePool extends PGlitePool {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  private acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release = (): void => {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  };

  override async connect(callback: (err: any, client: any, done: () => void) => void): Promise<void> {
    try {
      await getPGliteInstance();
      await this.acquire();
    } catch (error) {
      callback(error, null, () => undefined);
      return;
    }
    let released = false;
    const client = Object.create(this) as SerialPGlitePool;
    callback(null, client, () => {
      if (!released) {
        released = true;
        this.release();
      }
    });
  }

  override async query(sql: string, params?: any, callback?: any): Promise<any> {
    let cb = callback as ((e: unknown, r: unknown) => void) | undefined;
    let p = params;
    if (typeof params === 'function') {
      cb = params as typeof cb;
      p = undefined;
    }
    try {
      const db = await getPGliteInstance();
      const hasParams = Array.isArray(p) && p.length > 0;
      const raw = hasParams
        ? await db.query(sql, p as unknown[])
        : ((await db.exec(sql)).slice(-1)[0] ?? { rows: [], fields: [] });
      const result = {
        ...raw,
        command: (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase(),
        rowCount: (raw as { affectedRows?: number }).affectedRows ?? raw.rows.length,
      };
      cb?.(null, result);
      return result;
    } catch (error) {
      cb?.(error, null);
      if (!cb) throw error;
      return undefined;
    }
  }
}

/** The `driver` option for TypeORM's postgres type, backed by PGlite stored under `dataDir`. */
export function pgliteDriver(dataDir: string | undefined): unknown {
  // PGliteDriver records the PGlite options (data directory, boolean serializer) for the instance.
  new PGliteDriver(dataDir ? { dataDir } : {});
  return { Pool: SerialPGlitePool };
}

export async function pgliteInstance(): Promise<PGlite> {
  return getPGliteInstance();
}
