import { spawnBuiltService } from '../support/service';
import { EvidenceLoad, enrollFleet, expectExactlyOneGoodResult, faultEnv, rssMiB, sleep, faultWorkspace } from './support/evidence-load';

jest.setTimeout(240_000);

/** Recovery bound stated in the README: every acknowledged message has its result within this after a restart. */
const RECOVERY_MS = 30_000;

/**
 * SIGKILL under load, twice, on the engine of this pass (PGlite; PostgreSQL with
 * FLEETGUARD_TEST_PG): every PUBACKed evidence message ends with exactly one result, affirming —
 * none judged replayed or expired after the crash — within RECOVERY_MS, RSS bounded.
 */
describe('fault: SIGKILL under load', () => {
  const { dir, w, database } = faultWorkspace('fg-fault-kill-');

  it('every acknowledged message has exactly one affirming result after two kills', async () => {
    const db = await database();
    const env = faultEnv(dir, { ...db, FLEETGUARD_APPRAISAL_LEASE_SECONDS: '5' });
    let svc = await spawnBuiltService(env);
    const { fixture, devices } = await enrollFleet(svc.urls, w, 3);
    const load = new EvidenceLoad(() => svc.urls, devices, fixture.profile, 3);
    load.start();
    for (let kill = 0; kill < 2; kill++) {
      await sleep(2500);
      await svc.kill('SIGKILL');
      const t = Date.now();
      svc = await spawnBuiltService(env);
      process.stdout.write(`sigkill: restarted in ${Date.now() - t} ms\n`);
      load.reconnectAll();
    }
    await sleep(3000);
    await load.stop();
    process.stdout.write(`sigkill: ${load.acked.length} acknowledged, ${JSON.stringify(load.counts)}\n`);
    try {
      expect(load.acked.length).toBeGreaterThan(10);
      const took = await expectExactlyOneGoodResult(svc.urls.operator, fixture.manufacturer.key, devices.map((d) => d.deviceId), load.acked, RECOVERY_MS);
      expect(took).toBeLessThan(RECOVERY_MS);
      process.stdout.write(`sigkill: all results stored ${took} ms after the load stopped\n`);
      expect(rssMiB(svc.proc.pid!)).toBeLessThan(700);
    } finally {
      await svc.kill();
    }
  });
});
