import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { testDatabase } from '../../../../test/support/test-database';
import { AuditEntryEntity } from '../entities/audit-entry.entity';
import { AuditService } from './audit.service';

/** On the engine the suite runs on (PGlite, or PostgreSQL with FLEETGUARD_TEST_PG). */
describe('AuditService: one entry cannot take others down with it', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  let audit: AuditService;

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings, [AuditEntryEntity]));
    await ds.initialize();
    await runMigrations(ds);
    audit = new AuditService(ds);
  });
  afterAll(async () => {
    await ds.destroy();
    await drop();
  });

  it('stores entries whose text holds lone surrogates, NUL and over-long values, and the chain verifies', async () => {
    const bad = ['\ud800', 'a\udfffb', 'nul\u0000here', 'x'.repeat(5000)];
    await Promise.all(
      bad.map((t) =>
        audit.append({ actor: `key:${t}`, action: `POST /x/${t}`, resource: `/x/${t}`, outcome: t, details: { [t]: t, nested: [{ [t]: [t] }], message: `property ${t} should not exist` } }),
      ),
    );
    const rows = await audit.list({ limit: 100 });
    expect(rows).toHaveLength(bad.length);
    for (const r of rows) {
      expect(JSON.stringify(r)).not.toMatch(/\\ud[89ab]|\\u0000/);
      expect(r.resource!.length).toBeLessThanOrEqual(500);
    }
    expect(await audit.verify()).toMatchObject({ ok: true, entries: bad.length });
  });

  it('an entry the database refuses fails alone: the others queued with it are committed', async () => {
    const before = (await audit.verify()).entries;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        // organization_id is a uuid column: entry 7 cannot be stored whatever is done to its text.
        audit.append({ actor: 'key:test', organizationId: i === 7 ? 'not-a-uuid' : null, action: 'POST /things', resource: `/things/${i}`, outcome: '201' }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[7].status).toBe('rejected');
    expect(await audit.verify()).toMatchObject({ ok: true, entries: before + 19 });
  });

  it('appendIn writes the entry in the caller transaction: a rolled-back write leaves no entry, and no gap', async () => {
    const before = (await audit.verify()).entries;
    await expect(
      ds.transaction(async (m) => {
        await audit.appendIn(m, { actor: 'key:test', action: 'revoke', resource: 'devices/x', outcome: 'revoked' });
        throw new Error('the business write failed');
      }),
    ).rejects.toThrow('the business write failed');
    await ds.transaction((m) => audit.appendIn(m, { actor: 'key:test', action: 'revoke', resource: 'devices/y', outcome: 'revoked' }));
    expect(await audit.verify()).toMatchObject({ ok: true, entries: before + 1 });
  });
});
