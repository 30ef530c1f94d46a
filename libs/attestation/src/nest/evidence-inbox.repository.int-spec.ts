import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
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

  describe('commitMany (one statement per batch)', () => {
    async function device(id: string): Promise<string> {
      await ds.query(`INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki) VALUES ($1, $2, $3, 'P-256', '\\x00'::bytea)`, [id, product, org]);
      return id;
    }

    it('commits the held rows with fresh nonces and refuses, writing nothing, a lost lease and a taken nonce', async () => {
      const [d1, d2, d3] = await Promise.all([device(`batch-${randomUUID()}`), device(`batch-${randomUUID()}`), device(`batch-${randomUUID()}`)]);
      const good = await record('A', d1);
      const lost = await record('A', d2);
      const taken = await record('A', d3);
      const [n1, n2, n3] = [await nonce(d1), await nonce(d2), await nonce(d3)];
      await repo.commit(await record('A', d3), 'A', result({ nonce: n3 })); // n3 used by an earlier row
      await expireLease(lost.inboxId);
      await repo2.claim('B', 1000, 30); // B takes the expired row over
      // JSON values with quotes, backslashes and non-ASCII text, as a result's reasons and claims carry them.
      const rich = result({
        nonce: n1,
        trustVector: { 'instance-identity': 2, executables: 3 },
        reasons: ['PCR "0" is \\ wrong', 'ünïcødé'],
        findings: [{ stage: 'firmware', code: 'x', value: 96 }],
        claims: { fw: { version: '1.0.0' }, boot: { events: [{ pcr: 0, component: 'bl "1"' }] } },
      });
      const out = await repo.commitMany('A', [
        { job: good, r: rich },
        { job: lost, r: result({ nonce: n2 }) },
        { job: taken, r: result({ nonce: n3 }) },
      ]);
      expect(out).toEqual([
        { kind: 'committed', audience: [org, null], current: true },
        { kind: 'refused', reason: 'lease-lost' },
        { kind: 'refused', reason: 'nonce-taken' },
      ]);
      expect([await resultsFor(good.inboxId), await resultsFor(lost.inboxId), await resultsFor(taken.inboxId)]).toEqual([1, 0, 0]);
      expect([await processed(good.inboxId), await processed(lost.inboxId), await processed(taken.inboxId)]).toEqual([true, false, false]);
      expect(await nonceUsed(n1)).toBe(true);
      expect(await nonceUsed(n2)).toBe(false); // left for B
      const state = await ds.query('SELECT attestation_status, firmware_version, max_security_counter_seen::int AS max_security_counter_seen FROM devices WHERE id = $1', [d1]);
      expect(state[0]).toEqual({ attestation_status: 'affirming', firmware_version: '1.0.0', max_security_counter_seen: 3 });
      // The result keeps the evidence of its inbox row (copied there, not sent again) and the record's JSON values as they were.
      const stored = await ds.query('SELECT evidence, trust_vector, reasons, findings, claims, security_counter::int AS security_counter FROM attestation_results WHERE inbox_id = $1', [good.inboxId]);
      expect(stored[0]).toEqual({ evidence: good.evidence, trust_vector: rich.trustVector, reasons: rich.reasons, findings: rich.findings, claims: rich.claims, security_counter: rich.securityCounter });
      // B commits the row it took over; A's refused one is appraised again (its nonce now reads used).
      const bJob = { ...lost, attempts: 2 };
      expect((await repo2.commitMany('B', [{ job: bJob, r: result({ nonce: n2 }) }]))[0].kind).toBe('committed');
      expect(await repo.nonceStateAt(d3, n3, taken.receivedAt)).toBe('used');
      expect((await repo.commitMany('A', [{ job: taken, r: result({ status: 'contraindicated', affirming: false, firmware: null }) }]))[0].kind).toBe('committed');
      // Committed once: never again.
      expect(await repo.commitMany('A', [{ job: good, r: result() }])).toEqual([{ kind: 'refused', reason: 'lease-lost' }]);
      expect(await resultsFor(good.inboxId)).toBe(1);
    });

    it('a result for earlier evidence is stored but leaves the state set by later evidence', async () => {
      const d = await device(`batch-${randomUUID()}`);
      const older = await record('A', d);
      await new Promise((r) => setTimeout(r, 5));
      const newer = await record('A', d);
      expect((await repo.commitMany('A', [{ job: newer, r: result({ firmware: { version: '2.0.0', securityCounter: 5 }, firmwareVersion: '2.0.0', securityCounter: 5 }) }]))[0]).toEqual({ kind: 'committed', audience: [org, null], current: true });
      const late = await repo.commitMany('A', [{ job: older, r: result({ status: 'contraindicated', affirming: false, firmware: null }) }]);
      expect(late[0]).toEqual({ kind: 'committed', audience: [org, null], current: false });
      const state = await ds.query('SELECT attestation_status, firmware_version, max_security_counter_seen::int AS max_security_counter_seen FROM devices WHERE id = $1', [d]);
      expect(state[0]).toEqual({ attestation_status: 'affirming', firmware_version: '2.0.0', max_security_counter_seen: 5 });
      expect(await resultsFor(older.inboxId)).toBe(1);
    });

    it('a failure inside the batch writes nothing for any row', async () => {
      const d = await device(`batch-${randomUUID()}`);
      const fine = await record('A', d);
      const bad = await record('A', 'no-such-device-2');
      const [n1, n2] = [await nonce(d), await nonce('no-such-device-2')];
      await expect(repo.commitMany('A', [{ job: fine, r: result({ nonce: n1 }) }, { job: bad, r: result({ nonce: n2 }) }])).rejects.toThrow(/foreign key/i);
      expect([await processed(fine.inboxId), await processed(bad.inboxId), await nonceUsed(n1), await nonceUsed(n2)]).toEqual([false, false, false, false]);
      expect(await resultsFor(fine.inboxId)).toBe(0);
      expect((await repo.commitMany('A', [{ job: fine, r: result({ nonce: n1 }) }]))[0].kind).toBe('committed');
      await ds.query(`UPDATE attestation_inbox SET processed_at = now() WHERE id = $1`, [bad.inboxId]);
    });

    it('two claimants committing the same nonce at once: exactly one wins', async () => {
      const d = await device(`batch-${randomUUID()}`);
      const n = await nonce(d);
      const a = await record('A', d);
      const b = await record('B', d);
      const [ra, rb] = await Promise.all([repo.commitMany('A', [{ job: a, r: result({ nonce: n }) }]), repo2.commitMany('B', [{ job: b, r: result({ nonce: n }) }])]);
      expect([ra[0].kind, rb[0].kind].sort()).toEqual(['committed', 'refused']);
      expect((await resultsFor(a.inboxId)) + (await resultsFor(b.inboxId))).toBe(1);
      for (const j of [a, b]) await ds.query(`UPDATE attestation_inbox SET processed_at = now() WHERE id = $1`, [j.inboxId]);
    });

    it('recordMany stores a burst in one statement, claimed by its recorder; a stored hash is a duplicate of its row', async () => {
      const before = await record('A');
      const fresh = [1, 2, 3].map(() => {
        const evidence = `ev.${randomUUID()}.sig`;
        return { deviceId: DEVICE, hash: createHash('sha256').update(evidence).digest('hex'), id: randomUUID(), evidence, channel: 'mqtt' as const };
      });
      const again = { deviceId: DEVICE, hash: createHash('sha256').update(before.evidence).digest('hex'), id: randomUUID(), evidence: before.evidence, channel: 'mqtt' as const };
      const out = await repo.recordMany('A', 30, [fresh[0], again, fresh[1], fresh[2]]);
      expect(out.map((o) => o.duplicate)).toEqual([false, true, false, false]);
      expect(out[1].inboxId).toBe(before.inboxId);
      expect(out[1].receivedAt.getTime()).toBe(before.receivedAt.getTime());
      expect([out[0], out[2], out[3]].map((o) => o.inboxId)).toEqual([fresh[0].id, fresh[1].id, fresh[2].id]);
      // Held by A: nobody else claims them.
      expect((await repo2.claim('B', 1000, 30)).map((j) => j.inboxId)).not.toContain(fresh[0].id);
      for (const id of [before.inboxId, ...fresh.map((f) => f.id)]) await ds.query(`UPDATE attestation_inbox SET processed_at = now() WHERE id = $1`, [id]);
    });
  });

  it('removes appraised rows older than the retention, never unappraised ones, and judges nonces of a burst in one look', async () => {
    const old = await record('fg-purge');
    await repo.commit(old, 'fg-purge', result());
    const oldPending = await record('fg-purge');
    const recent = await record('fg-purge');
    await repo.commit(recent, 'fg-purge', result());
    await ds.query(`UPDATE attestation_inbox SET received_at = now() - interval '2 days' WHERE id = ANY($1::uuid[])`, [[old.inboxId, oldPending.inboxId]]);
    const exists = async (id: string) => (await ds.query('SELECT count(*)::int AS n FROM attestation_inbox WHERE id = $1', [id]))[0].n === 1;
    const removed = await repo.purgeProcessed(new Date(Date.now() - 86_400_000), 1000);
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await exists(old.inboxId)).toBe(false);
    expect(await exists(oldPending.inboxId)).toBe(true); // a backlog is appraised, not dropped
    expect(await exists(recent.inboxId)).toBe(true);
    expect(await resultsFor(old.inboxId)).toBe(1); // the result (and its evidence) stays

    const fresh = await nonce();
    const expiredAtReceipt = await nonce(DEVICE, 1);
    const other = await nonce('dev-other');
    const used = await nonce();
    await ds.query('UPDATE nonces SET used_at = now() WHERE nonce = $1', [used]);
    const now = new Date();
    const states = await repo.nonceStatesAt([
      { deviceId: DEVICE, nonce: fresh, receivedAt: now },
      { deviceId: DEVICE, nonce: expiredAtReceipt, receivedAt: new Date(now.getTime() + 5000) },
      { deviceId: DEVICE, nonce: other, receivedAt: now }, // another device's nonce is not this one's
      { deviceId: DEVICE, nonce: used, receivedAt: now },
      { deviceId: DEVICE, nonce: 'never-issued', receivedAt: now },
      { deviceId: DEVICE, nonce: fresh, receivedAt: now },
    ]);
    expect(states).toEqual(['ok', 'expired', 'unknown', 'used', 'unknown', 'ok']);
  });
});
