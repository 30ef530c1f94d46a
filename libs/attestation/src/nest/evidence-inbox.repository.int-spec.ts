import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence';
import { testDatabase } from '../../../../test/support/test-database';
import { CommitRefused, EvidenceInboxRepository, InboxJob, ResultRecord } from './evidence-inbox.repository';

/**
 * The exactly-once rules of the inbox on the real schema (PGlite, or PostgreSQL with
 * FLEETGUARD_TEST_PG): leases, take-over, one transaction per commit, the nonce judged at receipt,
 * a late result never overwriting newer state.
 */
describe('evidence inbox on the real schema', () => {
  let ds: DataSource;
  let ds2: DataSource;
  let drop: () => Promise<void>;
  let repo: EvidenceInboxRepository;
  let repo2: EvidenceInboxRepository;
  const org = randomUUID();
  const product = randomUUID();
  const DEVICE = 'dev-inbox-1';

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    ds = new DataSource(buildDataSourceOptions(db.settings));
    await ds.initialize();
    await runMigrations(ds);
    // A second connection pool on the same database: a second instance (on PostgreSQL really
    // concurrent; PGlite is one session, shared).
    // (An in-memory PGlite is one database per data source: there the second "instance" shares the first's.)
    if (db.settings.inMemory) ds2 = ds;
    else {
      ds2 = new DataSource(buildDataSourceOptions(db.settings));
      await ds2.initialize();
    }
    repo = new EvidenceInboxRepository(ds);
    repo2 = new EvidenceInboxRepository(ds2);
    await ds.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, 'acme', 'manufacturer')`, [org]);
    await ds.query(`INSERT INTO products (id, organization_id, name, component_type, target_levels) VALUES ($1, $2, 'p', 'EDR', '{}'::jsonb)`, [product, org]);
    await ds.query(`INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki) VALUES ($1, $2, $3, 'P-256', '\\x00'::bytea)`, [DEVICE, product, org]);
  });
  afterAll(async () => {
    if (ds2 !== ds) await ds2?.destroy();
    await ds?.destroy();
    await drop?.();
  });

  async function nonce(device = DEVICE, ttlSeconds = 60): Promise<string> {
    const n = randomBytes(32).toString('base64url');
    await ds.query(`INSERT INTO nonces (nonce, device_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`, [n, device, ttlSeconds]);
    return n;
  }

  async function record(claimant: string, device = DEVICE): Promise<InboxJob> {
    const evidence = `ev.${randomUUID()}.sig`;
    const s = await repo.record(device, createHash('sha256').update(evidence).digest('hex'), randomUUID(), evidence, 'mqtt', claimant, 30);
    return { inboxId: s.inboxId, deviceId: device, evidence, channel: 'mqtt', receivedAt: s.receivedAt, attempts: 1 };
  }

  function result(over: Partial<ResultRecord> = {}): ResultRecord {
    return {
      id: randomUUID(),
      status: 'affirming',
      trustVector: {},
      reasons: [],
      findings: [],
      firmwareVersion: '1.0.0',
      securityCounter: 3,
      claims: null,
      ear: 'ear',
      nonce: null,
      affirming: true,
      firmware: { version: '1.0.0', securityCounter: 3 },
      ...over,
    };
  }

  const resultsFor = async (inboxId: string) => (await ds.query('SELECT count(*)::int AS n FROM attestation_results WHERE inbox_id = $1', [inboxId]))[0].n as number;
  const nonceUsed = async (n: string) => (await ds.query('SELECT used_at FROM nonces WHERE nonce = $1', [n]))[0].used_at !== null;
  const processed = async (id: string) => (await ds.query('SELECT processed_at FROM attestation_inbox WHERE id = $1', [id]))[0].processed_at !== null;
  const expireLease = (id: string) => ds.query(`UPDATE attestation_inbox SET lease_until = now() - interval '1 second' WHERE id = $1`, [id]);

  it('a recorded row is held by its recorder; nobody else claims it until the lease runs out, then one claimant commits', async () => {
    const job = await record('A');
    const n = await nonce();
    expect((await repo2.claim('B', 100, 30)).map((j) => j.inboxId)).not.toContain(job.inboxId);
    await expireLease(job.inboxId);
    const taken = await repo2.claim('B', 100, 30);
    expect(taken.map((j) => j.inboxId)).toEqual([job.inboxId]);
    expect(taken[0].attempts).toBe(2);
    expect(taken[0].receivedAt.getTime()).toBe(job.receivedAt.getTime());
    // A finishes late: refused, nothing written (the nonce stays unused for B).
    await expect(repo.commit(job, 'A', result({ nonce: n }))).rejects.toEqual(new CommitRefused('lease-lost'));
    expect(await resultsFor(job.inboxId)).toBe(0);
    expect(await nonceUsed(n)).toBe(false);
    const done = await repo2.commit(taken[0], 'B', result({ nonce: n }));
    expect(done.current).toBe(true);
    expect(await resultsFor(job.inboxId)).toBe(1);
    expect(await nonceUsed(n)).toBe(true);
    expect(await processed(job.inboxId)).toBe(true);
    // Committed once: neither claimant can commit it again.
    await expect(repo2.commit(taken[0], 'B', result())).rejects.toEqual(new CommitRefused('lease-lost'));
    expect(await repo.claim('A', 100, 30)).toEqual([]);
  });

  it('a failure inside the commit writes nothing: the row stays unprocessed and the nonce unused', async () => {
    // Neither the inbox nor the nonces reference devices, so the nonce use and the inbox mark
    // succeed and the result's foreign key fails after them: the transaction must undo both.
    const job = await record('A', 'no-such-device');
    const n = await nonce('no-such-device');
    await expect(repo.commit(job, 'A', result({ nonce: n }))).rejects.toThrow(/foreign key/i);
    expect(await processed(job.inboxId)).toBe(false);
    expect(await nonceUsed(n)).toBe(false);
    expect(await resultsFor(job.inboxId)).toBe(0);
    await ds.query(`UPDATE attestation_inbox SET processed_at = now() WHERE id = $1`, [job.inboxId]);
  });

  it('a nonce used by another inbox row is refused at commit, with nothing written', async () => {
    const n = await nonce();
    const first = await record('A');
    const second = await record('A');
    await repo.commit(first, 'A', result({ nonce: n }));
    await expect(repo.commit(second, 'A', result({ nonce: n }))).rejects.toEqual(new CommitRefused('nonce-taken'));
    expect(await resultsFor(second.inboxId)).toBe(0);
    expect(await processed(second.inboxId)).toBe(false);
    expect(await repo.nonceStateAt(DEVICE, n, second.receivedAt)).toBe('used');
    await repo.commit(second, 'A', result({ status: 'contraindicated', affirming: false, firmware: null }));
  });

  it('judges a nonce as it stood when the evidence was received', async () => {
    const n = await nonce(DEVICE, 2);
    const expiresAt = new Date((await ds.query('SELECT expires_at FROM nonces WHERE nonce = $1', [n]))[0].expires_at);
    expect(await repo.nonceStateAt(DEVICE, n, new Date(expiresAt.getTime() - 1))).toBe('ok');
    expect(await repo.nonceStateAt(DEVICE, n, expiresAt)).toBe('expired');
    expect(await repo.nonceStateAt('another-device', n, new Date())).toBe('unknown');
    // Received in time, committed after expiry: consumed, not "expired".
    const job = await record('A');
    await ds.query(`UPDATE nonces SET expires_at = $2 WHERE nonce = $1`, [n, new Date(job.receivedAt.getTime() + 1)]);
    await new Promise((r) => setTimeout(r, 20));
    await repo.commit(job, 'A', result({ nonce: n }));
    expect(await nonceUsed(n)).toBe(true);
  });

  it('a result for earlier evidence is stored but never overwrites the state set by later evidence', async () => {
    await ds.query(`INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki) VALUES ('dev-late', $1, $2, 'P-256', '\\x00'::bytea)`, [product, org]);
    const older = await record('A', 'dev-late');
    await new Promise((r) => setTimeout(r, 5));
    const newer = await record('A', 'dev-late');
    expect(newer.receivedAt.getTime()).toBeGreaterThan(older.receivedAt.getTime());
    expect((await repo.commit(newer, 'A', result({ firmware: { version: '2.0.0', securityCounter: 5 } }))).current).toBe(true);
    const late = await repo.commit(older, 'A', result({ status: 'contraindicated', affirming: false, firmware: null }));
    expect(late.current).toBe(false);
    const d = (await ds.query(`SELECT attestation_status, attestation_at, firmware_version, max_security_counter_seen FROM devices WHERE id = 'dev-late'`))[0];
    expect(d.attestation_status).toBe('affirming');
    expect(new Date(d.attestation_at).getTime()).toBe(newer.receivedAt.getTime());
    expect(d.firmware_version).toBe('2.0.0');
    expect(await resultsFor(older.inboxId)).toBe(1);
  });

  it('one result per inbox row (unique index)', async () => {
    const job = await record('A');
    await repo.commit(job, 'A', result());
    await expect(
      ds.query(`INSERT INTO attestation_results (id, device_id, inbox_id, status, trust_vector, reasons, evidence, ear) VALUES ($1, $2, $3, 'affirming', '{}', '[]', 'e', 'ear')`, [randomUUID(), DEVICE, job.inboxId]),
    ).rejects.toThrow(/unique|duplicate/i);
  });

  it('a row given back after an error waits out its backoff, then is claimable again', async () => {
    const job = await record('A');
    await repo.release(job.inboxId, 'A', 60_000, 'connection terminated');
    expect((await repo2.claim('B', 100, 30)).map((j) => j.inboxId)).not.toContain(job.inboxId);
    const row = (await ds.query('SELECT last_error, lease_until FROM attestation_inbox WHERE id = $1', [job.inboxId]))[0];
    expect(row).toEqual({ last_error: 'connection terminated', lease_until: null });
    await ds.query(`UPDATE attestation_inbox SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [job.inboxId]);
    expect((await repo2.claim('B', 100, 30)).map((j) => j.inboxId)).toEqual([job.inboxId]);
    await repo2.commit({ ...job, attempts: 2 }, 'B', result());
  });

  it('two claimants racing over a backlog get disjoint rows that cover it', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const j = await record('dead-instance');
      ids.push(j.inboxId);
    }
    await ds.query(`UPDATE attestation_inbox SET lease_until = now() - interval '1 second' WHERE claimed_by = 'dead-instance'`);
    const seen: string[][] = [[], []];
    await Promise.all(
      [repo, repo2].map(async (r, k) => {
        for (;;) {
          const got = await r.claim(`C${k}`, 7, 30);
          if (!got.length) break;
          seen[k].push(...got.map((g) => g.inboxId));
        }
      }),
    );
    const all = [...seen[0], ...seen[1]];
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(all)).toEqual(new Set(ids));
    expect(await repo.backlog()).toBe(120);
  });

  it('releaseAllLeases frees the leases of a previous run (embedded engine at boot)', async () => {
    const job = await record('previous-run');
    expect(await repo.releaseAllLeases()).toBeGreaterThanOrEqual(1);
    expect((await repo.claim('now', 1000, 30)).map((j) => j.inboxId)).toContain(job.inboxId);
  });
});
