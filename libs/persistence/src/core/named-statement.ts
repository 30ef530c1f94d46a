/**
 * A statement that PostgreSQL parses and plans once per connection instead of once per call.
 *
 * node-postgres sends a query that has a `name` as a named prepared statement: Parse on its first
 * use on a connection, then only Bind and Execute; after five executions the server keeps a
 * generic plan when it costs no more than the custom ones. An unnamed statement is parsed and
 * planned on every call. On the appraisal path planning was a quarter of the server's time: the
 * grouped commit alone planned for 0.6-0.9 ms a call (pg_stat_statements with track_planning,
 * docs/scale.md).
 *
 * Name only statements whose plan cannot go wrong as tables grow: writes driven by their input
 * (`unnest`, `jsonb_to_recordset`) that reach each table by its key or through ON CONFLICT. Not
 * reads such as `WHERE id = ANY($1)`: a generic plan made while a table is small is a sequential
 * scan, and PostgreSQL keeps it until the table is analysed again (measured: the nonce read went
 * from 0.01 to 0.18 ms a row within ten seconds of a fresh database).
 *
 * The value goes through TypeORM's `query()` like any text, so it keeps the pool, the query runner
 * of a transaction and the embedded engine's exclusive session. TypeORM hands the query to the
 * driver untouched; node-postgres reads `text` and `name` from it (and copies its two fields
 * before adding the values). Its `toString()` is the SQL, for whatever else prints it (logging,
 * errors); the embedded pool reads it with statementText(). Typed as `string` for that reason:
 * `DataSource.query` takes nothing else. (Not a `String` object: node-postgres copies a query's
 * own properties, and a String has one per character.)
 *
 * One name, one text: node-postgres refuses a name reused for different SQL on a connection, and
 * this refuses it at once, on any connection.
 */
class NamedStatementText {
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  toString(): string {
    return this.text;
  }
}

const names = new Map<string, string>();

export function namedStatement(name: string, text: string): string {
  const known = names.get(name);
  if (known !== undefined && known !== text) throw new Error(`named statement '${name}' is already used for a different SQL text`);
  names.set(name, text);
  return new NamedStatementText(name, text) as unknown as string;
}

/** The SQL text of a query handed to a pool: a plain string or a namedStatement. */
export function statementText(query: unknown): string {
  if (typeof query === 'string') return query;
  if (query instanceof NamedStatementText) return query.text;
  throw new TypeError('a query must be SQL text');
}
