import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { buildEvidence } from '@fleetguard/device-kit';
import { spawnBuiltService } from '../support/service';
import { TEST_PG_URL } from '../support/test-database';
import { enrollFleet, faultEnv, postJson, sha256, sleep, faultWorkspace } from './support/evidence-load';

jest.setTimeout(480_000);

const BACKLOG = 240;

/**
 * A backlog of recorded, unappraised evidence (as a crash or an outage leaves it), then two
 * instances on the same PostgreSQL database, the second started while the first works through
 * it: every row gets exactly one result, affirming (a double appraisal would store a second,
 * "replayed" one). PostgreSQL only: PGlite is held by one process.
 */
(TEST_PG_URL ? describe : describe.skip)('fault: a second instance during a backlog (PostgreSQL)', () => {
  const { dir, w, database } = faultWorkspace('fg-fault-two-');

  it('appraises nothing twice', async () => {
    const pg = { url: (await database()).DATABASE_URL };
    // Small queues (each claims at most 3 rows a second: one alone needs 80 s for the backlog), so
    // the backlog outlasts the second boot even on a loaded machine, and both share it.
    const env = faultEnv(dir, { DATABASE_URL: pg.url, FLEETGUARD_APPRAISAL_CONCURRENCY: '2', FLEETGUARD_APPRAISAL_QUEUE_MAX: '6' });
    const first = await spawnBuiltService(env);
    const { fixture, devices } = await enrollFleet(first.urls, w, 4);
    const evidences: Array<{ deviceId: string; evidence: string }> = [];
    for (let i = 0; i < BACKLOG; i++) {
      const d = devices[i % devices.length];
      const c = await postJson(`${first.urls.device}/attestation/challenge`, d.tls, {});
      expect(c.status).toBe(200);
      evidences.push({ deviceId: d.deviceId, evidence: await buildEvidence({ deviceKey: d.tls.key, deviceId: d.deviceId, nonce: c.body.nonce, fw: fixture.profile.fw, events: fixture.profile.events }) });
    }
    await first.kill('SIGKILL');
    const db = new Client({ connectionString: pg.url });
    await db.connect();
    try {
      // Recorded and acknowledged by the killed instance, its leases already run out.
      for (const e of evidences) {
        await db.query(
          `INSERT INTO attestation_inbox (id, device_id, evidence_hash, evidence, channel, claimed_by, lease_until, attempts) VALUES ($1, $2, $3, $4, 'mqtt', 'killed', now() - interval '1 second', 1)`,
          [randomUUID(), e.deviceId, sha256(e.evidence), e.evidence],
        );
      }
      // Both started together (a boot on a loaded machine can take longer than one instance needs).
      const [a, b] = await Promise.all([spawnBuiltService(env), sleep(300).then(() => spawnBuiltService(env))]);
      try {
        const deadline = Date.now() + 200_000;
        let left = BACKLOG;
        while (Date.now() < deadline && left > 0) {
          left = (await db.query('SELECT count(*)::int AS n FROM attestation_inbox WHERE processed_at IS NULL')).rows[0].n;
          await sleep(500);
        }
        expect(left).toBe(0);
        const perRow = (await db.query(`SELECT i.id, count(r.id)::int AS n, array_agg(r.status) AS statuses FROM attestation_inbox i LEFT JOIN attestation_results r ON r.inbox_id = i.id GROUP BY i.id`)).rows;
        expect(perRow).toHaveLength(BACKLOG);
        expect(perRow.filter((r) => r.n !== 1)).toEqual([]);
        const bad = (await db.query(`SELECT status, reasons FROM attestation_results WHERE status <> 'affirming'`)).rows;
        expect(bad).toEqual([]);
        const claimants = (await db.query(`SELECT claimed_by, count(*)::int AS n FROM attestation_inbox GROUP BY claimed_by`)).rows;
        process.stdout.write(`second instance: rows by final claimant ${JSON.stringify(claimants)}\n`);
        expect(claimants.filter((c) => c.claimed_by !== 'killed')).toHaveLength(2);
      } finally {
        await Promise.all([a.kill(), b.kill()]);
      }
    } finally {
      await db.end();
    }
  });
});
