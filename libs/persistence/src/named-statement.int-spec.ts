import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './nest/data-source.factory';
import { namedStatement, statementText } from './core/named-statement';
import { returningRows } from './core/returning-rows';
import { createPostgresDatabase } from '../../../test/support/test-database';

const PG_SERVER = process.env.FLEETGUARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const ADD = namedStatement('test.named.add', 'SELECT $1::int + 1 AS n');
const BUMP = namedStatement('test.named.bump', 'UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n');

describe('namedStatement', () => {
  it('is the SQL text wherever text is read, and refuses one name for two texts', () => {
    expect(String(ADD)).toBe('SELECT $1::int + 1 AS n');
    expect(`${ADD}`).toBe('SELECT $1::int + 1 AS n');
    expect(statementText(ADD)).toBe('SELECT $1::int + 1 AS n');
    expect(statementText('SELECT 1')).toBe('SELECT 1');
    expect(() => statementText({ text: 'SELECT 1' })).toThrow(/SQL text/);
    expect(namedStatement('test.named.add', 'SELECT $1::int + 1 AS n')).toEqual(ADD);
    expect(() => namedStatement('test.named.add', 'SELECT $1::int + 2 AS n')).toThrow(/test\.named\.add.*different SQL/);
  });

  it('runs on the embedded PGlite like its text (results, RETURNING, inside a transaction)', async () => {
    const ds = new DataSource(buildDataSourceOptions({ dataDir: '/tmp', inMemory: true }));
    await ds.initialize();
    try {
      expect(await ds.query(ADD, [41])).toEqual([{ n: 42 }]);
      await ds.query('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)');
      await ds.query('INSERT INTO counters VALUES (1, 0)');
      const bumped = await ds.transaction(async (m) => returningRows<{ n: number }>(await m.query(BUMP, [1])));
      expect(bumped).toEqual([{ n: 1 }]);
    } finally {
      await ds.destroy();
    }
  });

  it('is prepared once per PostgreSQL connection and then executed from its plan; its results are the text\'s', async () => {
    const db = await createPostgresDatabase(PG_SERVER);
    const ds = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
    await ds.initialize();
    const runner = ds.createQueryRunner();
    try {
      await runner.query('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)');
      await runner.query('INSERT INTO counters VALUES (1, 0)');
      for (let i = 0; i < 7; i++) expect(await runner.query(ADD, [i])).toEqual([{ n: i + 1 }]);
      // node-postgres hands back UPDATE ... RETURNING as [rows, count], named or not.
      expect(returningRows(await runner.query(BUMP, [1]))).toEqual([{ n: 1 }]);
      expect(await runner.query('UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n', [1])).toEqual([[{ n: 2 }], 1]);
      const prepared: Array<{ name: string; statement: string; runs: number }> = await runner.query(
        'SELECT name, statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements ORDER BY name',
      );
      // Seven executions of one Parse: the server kept the statement (unnamed ones leave nothing here).
      expect(prepared).toEqual([
        { name: 'test.named.add', statement: 'SELECT $1::int + 1 AS n', runs: 7 },
        { name: 'test.named.bump', statement: 'UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n', runs: 1 },
      ]);
      // In a transaction (another connection of the pool) it is prepared there too.
      await ds.transaction(async (m) => expect(returningRows(await m.query(BUMP, [1]))).toEqual([{ n: 3 }]));
    } finally {
      await runner.release();
      await ds.destroy();
      await db.drop();
    }
  });
});
