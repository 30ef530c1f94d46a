import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { returningRows } from '../core/returning-rows';
import { SerialPGlitePool } from './pglite-serial.pool';

interface PgPoolLike {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** Statement names by text: a name stands for one text (node-postgres prepares it once per connection). */
const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `fg_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (names.size > 1000) names.clear();
    names.set(text, name);
  }
  return name;
}

/**
 * A hot-path statement sent straight to the node-postgres pool, as a prepared statement (parsed
 * once per connection, named by its text), instead of through TypeORM's QueryRunner: no runner,
 * no EntityManager, no result reshaping on every call. The text must be fixed (values only in
 * `params`), or every variant becomes one more prepared statement on each connection.
 *
 * On the embedded engine (PGlite: one session that SerialPGlitePool hands to one runner at a
 * time) it goes through DataSource.query as any other statement. Either way: the rows, also
 * for UPDATE/DELETE … RETURNING (see returningRows). Errors are node-postgres's own (the same
 * `code`, without TypeORM's QueryFailedError around them).
 */
export async function poolQuery<T>(ds: DataSource, text: string, params: unknown[]): Promise<T[]> {
  const pool = (ds.driver as unknown as { master?: unknown }).master;
  if (!pool || pool instanceof SerialPGlitePool) return returningRows<T>(await ds.query(text, params));
  const result = await (pool as PgPoolLike).query({ name: statementName(text), text, values: params });
  return result.rows as T[];
}
