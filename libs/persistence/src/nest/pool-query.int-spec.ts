import { DataSource } from 'typeorm';
import { buildDataSourceOptions, poolQuery } from '@fleetguard/persistence/nest';
import { TEST_PG_URL, testDatabase } from '../../../../test/support/test-database';

/**
 * poolQuery on both engines (PGlite, or PostgreSQL with FLEETGUARD_TEST_PG): rows for every kind
 * of statement (RETURNING of INSERT, UPDATE and a data-modifying WITH), the same statement again
 * (prepared on PostgreSQL), errors with PostgreSQL's code, and PGlite's single session still
 * serialised with a transaction that holds it.
 */
describe('poolQuery', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings));
    await ds.initialize();
    await ds.query('CREATE TABLE pool_query_probe (id int PRIMARY KEY, label text NOT NULL)');
  });
  afterAll(async () => {
    await ds?.destroy();
    await drop?.();
  });

  it('returns the rows of INSERT, UPDATE and WITH … RETURNING, the same statement many times', async () => {
    const insert = 'INSERT INTO pool_query_probe (id, label) SELECT * FROM unnest($1::int[], $2::text[]) RETURNING id, label';
    expect(await poolQuery(ds, insert, [[1, 2], ['a', 'b']])).toEqual([
      { id: 1, label: 'a' },
      { id: 2, label: 'b' },
    ]);
    // Again, with other values (a prepared statement on PostgreSQL is reused with new parameters).
    for (let i = 3; i < 10; i++) expect(await poolQuery(ds, insert, [[i], [`x${i}`]])).toEqual([{ id: i, label: `x${i}` }]);
    expect(await poolQuery(ds, 'UPDATE pool_query_probe SET label = $2 WHERE id = ANY($1::int[]) RETURNING id', [[1, 2, 99], 'z'])).toHaveLength(2);
    const moved = await poolQuery<{ id: number }>(ds, 'WITH d AS (DELETE FROM pool_query_probe WHERE id >= $1 RETURNING id) SELECT id FROM d ORDER BY id', [8]);
    expect(moved.map((r) => r.id)).toEqual([8, 9]);
    const left = await poolQuery<{ n: number }>(ds, "SELECT count(*)::int AS n FROM pool_query_probe WHERE label = 'z'", []);
    expect(left).toEqual([{ n: 2 }]);
  });

  it('fails with the database error and its code', async () => {
    await expect(poolQuery(ds, 'INSERT INTO pool_query_probe (id, label) VALUES ($1, $2)', [1, 'again'])).rejects.toMatchObject({ code: '23505' });
  });

  (TEST_PG_URL ? it : it.skip)('on PostgreSQL prepares the statement once per connection, by name', async () => {
    const text = 'SELECT label FROM pool_query_probe WHERE id = $1';
    for (let i = 0; i < 3; i++) await poolQuery(ds, text, [1]);
    // Awaited one after another, the calls take the same idle connection (the pool's most recent), so this sees its statements.
    const prepared = await poolQuery<{ name: string; statement: string }>(ds, 'SELECT name, statement FROM pg_prepared_statements', []);
    expect(prepared.filter((p) => p.statement === text)).toEqual([{ name: expect.stringMatching(/^fg_[0-9a-f]{24}$/), statement: text }]);
  });

  (TEST_PG_URL ? it.skip : it)('on PGlite waits for a transaction holding the one session (never runs inside it)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = ds.transaction(async (m) => {
      await m.query("INSERT INTO pool_query_probe (id, label) VALUES (100, 'tx')");
      await held;
      throw new Error('rolled back');
    });
    await new Promise((r) => setTimeout(r, 20));
    const read = poolQuery<{ n: number }>(ds, 'SELECT count(*)::int AS n FROM pool_query_probe WHERE id = $1', [100]);
    release();
    await expect(tx).rejects.toThrow('rolled back');
    // Had it run inside the transaction's session it would have seen the row that was rolled back.
    expect(await read).toEqual([{ n: 0 }]);
  });
});
