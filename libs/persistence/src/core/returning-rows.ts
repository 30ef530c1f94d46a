/**
 * `DataSource.query` hands back an UPDATE/DELETE … RETURNING as `[rows, rowCount]` on node-postgres
 * (TypeORM keys on the statement's command tag) but as plain rows where the tag is not UPDATE or
 * DELETE (e.g. a statement starting with WITH on PGlite). This gives the rows either way.
 */
export function returningRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return (result ?? []) as T[];
}
