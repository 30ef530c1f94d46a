import { EventEmitter } from 'node:events';
import { PGlite, types } from '@electric-sql/pglite';
import { statementText } from '../core/named-statement';

type QueryCallback = (err: unknown, result: unknown) => void;

/** Booleans as PostgreSQL literals: TypeORM hands PGlite `true`/`1`/`'true'` alike. */
function serializeBool(value: unknown): string {
  if (value === true || value === 'true' || value === 1) return 'TRUE';
  if (value === false || value === 'false' || value === 0) return 'FALSE';
  return String(value);
}

/**
 * The `Pool` that TypeORM's postgres driver uses, over one embedded PGlite database.
 *
 * PGlite is one Postgres session in process, so the pool makes that session exclusive: a query
 * runner holds it from connect until release, the others queue (two interleaved transactions on
 * one session would undo each other's writes on rollback). Each pool owns its PGlite instance,
 * created on first use and closed by `end()`, so two services in one process (tests) never share
 * a database. It also fills in the `rowCount`/`command` fields node-postgres gives and TypeORM
 * reads for UPDATE/DELETE results.
 *
 * Written here rather than taken from typeorm-pglite: that adapter keeps one PGlite instance per
 * process in a static, hands its single session to every query runner at once, and exports no
 * pool to build on (its pool lives at an internal path); what is left of it is these few lines.
 */
export abstract class SerialPGlitePool extends EventEmitter {
  protected abstract readonly dataDir: string | undefined;
  private db?: Promise<PGlite>;
  private held = false;
  private readonly waiters: Array<() => void> = [];

  protected instance(): Promise<PGlite> {
    this.db ??= PGlite.create({ ...(this.dataDir ? { dataDir: this.dataDir } : {}), serializers: { [types.BOOL]: serializeBool } });
    return this.db;
  }

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

  async connect(callback: (err: unknown, client: unknown, done: () => void) => void): Promise<void> {
    try {
      await this.instance();
      await this.acquire();
    } catch (error) {
      callback(error, null, () => undefined);
      return;
    }
    let released = false;
    callback(null, this, () => {
      if (!released) {
        released = true;
        this.release();
      }
    });
  }

  async query(query: unknown, params?: unknown, callback?: QueryCallback): Promise<unknown> {
    let cb = callback;
    let p = params;
    if (typeof params === 'function') {
      cb = params as QueryCallback;
      p = undefined;
    }
    try {
      // A namedStatement is prepared per connection on PostgreSQL; the embedded engine plans in process, so its text is enough.
      const sql = statementText(query);
      const db = await this.instance();
      const hasParams = Array.isArray(p) && p.length > 0;
      const raw = hasParams ? await db.query(sql, p as unknown[]) : ((await db.exec(sql)).slice(-1)[0] ?? { rows: [], fields: [] });
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

  end(callback?: (err: unknown) => void): void {
    const db = this.db;
    this.db = undefined;
    (db ? db.then((d) => d.close()) : Promise.resolve()).then(
      () => callback?.(null),
      (error: unknown) => callback?.(error),
    );
  }
}

/** The `driver` option for TypeORM's postgres type, backed by PGlite stored under `dataDir` (in memory when unset). */
export function pgliteDriver(dataDir: string | undefined): unknown {
  class Pool extends SerialPGlitePool {
    protected readonly dataDir = dataDir;
  }
  return { Pool };
}
