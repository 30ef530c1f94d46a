import * as fs from 'node:fs';
import { ADMIN_KEY, Api, spawnBuiltService } from '../support/service';
import { Workdir } from '../support/openssl';
import { TEST_PG_URL } from '../support/test-database';
import { ScratchCluster } from './support/scratch-cluster';
import { EvidenceLoad, enrollFleet, expectExactlyOneGoodResult, faultEnv, rssMiB, sleep, tempDir } from './support/evidence-load';

jest.setTimeout(240_000);

const OUTAGE_MS = 10_000;
const RECOVERY_MS = 30_000;

/**
 * A PostgreSQL outage of 10 s under load. The database is a scratch cluster this test starts with
 * initdb/pg_ctl on a free port (the shared server on 5432 is never touched); "outage" is
 * `pg_ctl stop -m fast` (sessions terminated, connections refused) and a start 10 s later.
 * Runs in the PGlite pass only (it brings its own PostgreSQL, so the second pass would repeat it).
 * Asserts: while down, readiness and the operator API answer 503 with Retry-After; after it,
 * every PUBACKed message has exactly one affirming result within RECOVERY_MS.
 */
(ScratchCluster.available() && !TEST_PG_URL ? describe : describe.skip)('fault: PostgreSQL outage', () => {
  const dir = tempDir('fg-fault-pg-');
  const w = new Workdir();
  let cluster: ScratchCluster | undefined;
  afterAll(() => {
    cluster?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    w.cleanup();
  });

  it('answers 503 while the database is down and loses nothing it acknowledged', async () => {
    cluster = await ScratchCluster.create();
    const svc = await spawnBuiltService(faultEnv(dir, { DATABASE_URL: cluster.url }));
    try {
      const { fixture, devices } = await enrollFleet(svc.urls, w, 2);
      const load = new EvidenceLoad(() => svc.urls, devices, fixture.profile, 2);
      load.start();
      await sleep(2000);
      const before = load.acked.length;
      cluster.stop('fast');
      await sleep(1000);
      const api = new Api(svc.urls.operator);
      const ready = await api.get('/health/ready');
      const listing = await api.get('/api/v1/devices', ADMIN_KEY);
      await sleep(OUTAGE_MS - 1000);
      cluster.start();
      const upAt = Date.now();
      await sleep(4000);
      await load.stop();
      process.stdout.write(`outage: ${before} acknowledged before, ${load.acked.length} in all; ${JSON.stringify(load.counts)}; ready ${ready.status}, devices ${listing.status} ${JSON.stringify(listing.body)}\n`);
      expect(ready.status).toBe(503);
      expect(listing.status).toBe(503);
      expect(listing.headers.get('retry-after')).toBe('5');
      expect(listing.body.code).toBe('database.unavailable');
      expect(load.acked.length).toBeGreaterThan(before);
      const took = await expectExactlyOneGoodResult(svc.urls.operator, fixture.manufacturer.key, devices.map((d) => d.deviceId), load.acked, RECOVERY_MS);
      process.stdout.write(`outage: all results stored ${Date.now() - upAt} ms after the database came back (${took} ms after the load stopped)\n`);
      expect((await api.get('/health/ready')).status).toBe(200);
      expect(rssMiB(svc.proc.pid!)).toBeLessThan(700);
    } finally {
      await svc.kill();
    }
  });
});
