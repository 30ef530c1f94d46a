/**
 * Appraisals with 1, 2 and 3 instances of the service on this machine: each run starts N built
 * service processes (dist/, as the README runs them) on one fresh PostgreSQL database and one
 * Redis database number of its own (FLEETGUARD_REDIS_URL), Debian's HAProxy in front of their
 * operator API (HTTP, round robin per request), device HTTPS and MQTT (TCP, least connections),
 * and `--devices` simulated devices (apps/device-sim, in a worker thread of this process) that
 * enroll and connect through HAProxy, so they spread across the instances.
 *
 *   npm run bench:scale [-- --devices 200 --seconds 15 --warmup-seconds 3 --instances 1,2,3]
 *
 * Load: a closed loop per device. When a device receives the result of its challenge, this
 * process asks for the next one with `POST /api/v1/devices/<id>/attest` through HAProxy: the
 * operator API of whichever instance HAProxy picks checks the key and the device, finds where the
 * device is connected (Redis presence), stores the nonce and publishes the challenge, which
 * reaches the device through Redis when it is connected elsewhere. The device answers with signed
 * evidence (ES256 EAT) over MQTT to its instance, which records it, appraises it, stores the
 * result and publishes the EAR back. So an appraisal here costs its API call and its coordination
 * too: that is the point of the comparison. (The periodic scheduler was not used: its rate is what
 * its interval offers, not what the instances can do.) A device without a result after 30 s is
 * asked again (`reissued`).
 *
 * Counted in a window of `--seconds` after `--warmup-seconds` of the loop: results stored in
 * attestation_results (created_at inside the window), per instance the appraisals it made
 * (fleetguard_attestations_total on its own /metrics) and the CPU seconds of its process (from
 * /proc/<pid>/stat), the CPU of the PostgreSQL backends serving this run's database (from
 * pg_stat_activity and /proc), of HAProxy and of redis-server (which other users of that Redis
 * share), and where the machine's CPU went (cpuMeter: this process is the load generator).
 * N = 1 is the baseline of the same run: efficiency is appraisals per instance CPU-second relative
 * to it, which shows what coordination costs even where two cores cannot grow the total.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { Client } from 'pg';
import { createScratchDatabase } from '@fleetguard/persistence';
import { runFleetWorker, type FleetInput, type ResultMessage } from './support/fleet-worker';
import { Api, ephemeralEnv, spawnBuiltService } from '../test/support/service';
import { productWithRelease } from '../test/support/fleet-fixture';
import { HAPROXY, RunningHaproxy, claimRedisDb, frontPorts, redisReachable, startHaproxy } from '../test/support/cluster';
import { BENCH_PG_SERVER, benchPgConnection, onInterrupt, queryBenchDb, readMetric } from './support/bench-service';
import { cpuMeter, emit, fail, latencySummary, machineInfo, nowMs, numberArg, pidsNamed, processCpuSeconds, round, sleep } from './support/measure';
import { startWorker, workerFailed, WorkerChannel } from './support/worker-channel';

const REISSUE_AFTER_MS = 30_000;



type Instance = Awaited<ReturnType<typeof spawnBuiltService>>;

function instancesArg(): number[] {
  const i = process.argv.indexOf('--instances');
  if (i < 0) return [1, 2, 3];
  const list = String(process.argv[i + 1] ?? '')
    .split(',')
    .map(Number);
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('--instances needs a comma-separated list of counts between 1 and 8, e.g. 1,2,3');
  return list;
}

/** `POST /api/v1/devices/<id>/attest` on a keep-alive agent; resolves the HTTP status (0 for a transport error). */
function requestAttest(agent: http.Agent, base: URL, key: string, deviceId: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(base, { method: 'POST', path: `/api/v1/devices/${deviceId}/attest`, agent, headers: { authorization: `Bearer ${key}`, 'content-length': 0 } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** CPU seconds of each pid now (null once a process is gone). */
function cpuOf(pids: number[]): Map<number, number | null> {
  return new Map(pids.map((pid) => [pid, processCpuSeconds(pid)]));
}

/** CPU seconds spent between two readings, summed over the pids (a pid only in `after` counts from zero: it started inside the window). */
function spent(before: Map<number, number | null>, after: Map<number, number | null>): number {
  let sum = 0;
  for (const [pid, t1] of after) if (t1 !== null) sum += Math.max(0, t1 - (before.get(pid) ?? 0));
  return sum;
}

async function postgresBackends(pg: Client, database: string): Promise<number[]> {
  const r = await pg.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  return r.rows.map((x) => Number(x.pid));
}

async function runCluster(n: number, o: { devices: number; seconds: number; warmupSeconds: number; pg: Client }) {
  const setupT0 = nowMs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-bench-scale-'));
  const db = await createScratchDatabase(BENCH_PG_SERVER, 'fleetguard_bench');
  const redis = claimRedisDb();
  const adminKey = `fg-bench-admin-${randomBytes(16).toString('hex')}`;
  const instances: Instance[] = [];
  let haproxy: RunningHaproxy | undefined;
  let worker: WorkerChannel | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await worker?.close().catch(() => undefined);
    agent.destroy();
    haproxy?.stop();
    await Promise.all(instances.map((s) => s.kill('SIGTERM')));
    await db.drop().catch(() => undefined);
    redis.release();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  onInterrupt(cleanup);
  try {
    const front = await frontPorts();
    const env = (name: string) => ({
      ...ephemeralEnv(path.join(dir, name)),
      DATABASE_URL: db.url,
      FLEETGUARD_REDIS_URL: redis.url,
      FLEETGUARD_PUBLIC_URL: `http://127.0.0.1:${front.operator}`,
      FLEETGUARD_ENV: 'production',
      FLEETGUARD_ADMIN_KEY: adminKey,
      FLEETGUARD_CA_PASSPHRASE: 'bench-ca-passphrase-not-a-secret',
      FLEETGUARD_LOG_LEVEL: 'warn',
      // The loop asks for every challenge itself; the scheduler would add its own.
      FLEETGUARD_ATTEST_INTERVAL_SECONDS: '86400',
      // Closed loops run each device far above a real device's rate: the per-device limit would measure itself.
      FLEETGUARD_DEVICE_RATE_PER_MINUTE: '100000',
      __WAIT_FOR: 'mqtt',
    });
    // All at once on an empty database: one makes the CA, the others adopt it.
    const started = await Promise.allSettled(Array.from({ length: n }, (_, i) => spawnBuiltService(env(`i${i}`))));
    for (const s of started) if (s.status === 'fulfilled') instances.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    haproxy = await startHaproxy({ dir, front, instances: instances.map((s) => s.urls) });
    const lb = new Api(haproxy.urls.operator);
    const fixture = await productWithRelease(lb, { adminKey });
    const tokens = await fixture.tokens(o.devices);

    /* -------------------------------------------------------- devices, through HAProxy */
    const firstResults = new Uint32Array(o.devices);
    let onResult: (r: ResultMessage) => void = (r) => firstResults[r.i]++;
    const deviceErrors: string[] = [];
    let deviceErrorCount = 0;
    let disconnects = 0;
    const input: FleetInput = { operatorUrl: haproxy.urls.operator, deviceUrl: haproxy.urls.device, mqttUrl: haproxy.urls.mqtt, tokens, profile: fixture.profile, count: o.devices };
    const f0 = nowMs();
    worker = startWorker(__filename, input);
    worker.on<{ results: ResultMessage[] }>('results', (m) => m.results.forEach((r) => onResult(r)));
    worker.on<{ message: string }>('device-error', (m) => {
      deviceErrorCount++;
      if (deviceErrors.length < 5) deviceErrors.push(m.message);
    });
    worker.on('disconnect', () => disconnects++);
    const { ids } = await worker.next<{ ids: string[] }>('ready', 600_000);
    const fleetSeconds = (nowMs() - f0) / 1000;
    // Each device is challenged when it subscribes: those results first.
    for (const until = nowMs() + 60_000; firstResults.some((x) => x === 0) && nowMs() < until; ) await sleep(50);
    const withoutFirstResult = firstResults.filter((x) => x === 0).length;
    const connectedByInstance = await Promise.all(instances.map((s) => readMetric(s.urls.operator, adminKey, 'fleetguard_mqtt_connected_devices')));

    /* -------------------------------------------------------- closed loop */
    const base = new URL(haproxy.urls.operator);
    const outstanding = new Float64Array(o.devices); // when the pending challenge was asked for; 0 = none
    const latencies: number[] = [];
    const refusals: Record<string, number> = {};
    let running = true;
    let window = { start: Infinity, end: Infinity };
    let resultsInWindow = 0;
    let reissued = 0;
    const issue = (i: number) => {
      outstanding[i] = nowMs();
      void requestAttest(agent, base, fixture.manufacturer.key, ids[i]).then((status) => {
        if (status === 202) return;
        refusals[String(status)] = (refusals[String(status)] ?? 0) + 1;
        outstanding[i] = 0;
        if (running) setTimeout(() => issue(i), 50);
      });
    };
    onResult = (r) => {
      const t0 = outstanding[r.i];
      if (!t0) return; // the answer to a challenge asked again after 30 s, or after the loop stopped
      outstanding[r.i] = 0;
      if (r.at >= window.start && r.at < window.end) {
        resultsInWindow++;
        latencies.push(r.at - t0);
      }
      if (running) issue(r.i);
    };
    const watchdog = setInterval(() => {
      const stale = nowMs() - REISSUE_AFTER_MS;
      for (let i = 0; i < o.devices; i++) {
        if (running && outstanding[i] > 0 && outstanding[i] < stale) {
          reissued++;
          issue(i);
        }
      }
    }, 1000);
    for (let i = 0; i < o.devices; i++) issue(i);
    await sleep(o.warmupSeconds * 1000);

    const pids = instances.map((s) => s.proc.pid!);
    // The slow parts first (HTTP to each instance, the database), then the CPU counters and the
    // clock together: the window's edges are where the CPU was read.
    const readings = async () => {
      const [appraised, backends] = await Promise.all([Promise.all(instances.map((s) => readMetric(s.urls.operator, adminKey, 'fleetguard_attestations_total'))), postgresBackends(o.pg, db.name)]);
      return { appraised, instances: cpuOf(pids), postgres: cpuOf(backends), haproxy: cpuOf([haproxy!.pid]), redis: cpuOf(pidsNamed('redis-server')), at: nowMs() };
    };
    const load = machineInfo().loadAvg1m;
    const r0 = await readings();
    const meter = cpuMeter();
    window = { start: r0.at, end: r0.at + o.seconds * 1000 };
    await sleep(Math.max(0, window.end - nowMs()));
    const r1 = await readings();
    const machineCpu = meter();
    running = false;
    clearInterval(watchdog);
    const wall = (r1.at - r0.at) / 1000;
    for (const until = nowMs() + 10_000; outstanding.some((t) => t > 0) && nowMs() < until; ) await sleep(20);
    const outstandingAfterDrain = outstanding.filter((t) => t > 0).length;
    const [{ n: stored }] = await queryBenchDb<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM attestation_results WHERE created_at >= $1 AND created_at < $2', [new Date(r0.at), new Date(r1.at)]);

    const instanceCpu = pids.map((pid) => round((r1.instances.get(pid) ?? 0) - (r0.instances.get(pid) ?? 0), 2)!);
    const appraisedBy = r1.appraised.map((v, i) => v - r0.appraised[i]);
    const totalInstanceCpu = instanceCpu.reduce((a, b) => a + b, 0);
    const postgresCpu = spent(r0.postgres, r1.postgres);
    worker.send({ t: 'close' });
    await worker.next('closed', 30_000).catch(() => undefined);
    return {
      instances: n,
      devices: o.devices,
      connectedByInstance,
      windowSeconds: round(wall, 2),
      loadAvg1mAtStart: load,
      appraisalsStored: stored,
      appraisalsPerSecond: round(stored / wall, 0)!,
      resultsReceivedByDevicesInWindow: resultsInWindow,
      appraisedByInstance: appraisedBy,
      instanceCpuSeconds: instanceCpu,
      instanceCores: instanceCpu.map((c) => round(c / wall, 2)),
      appraisalsPerCpuSecondByInstance: appraisedBy.map((a, i) => (instanceCpu[i] > 0 ? round(a / instanceCpu[i], 0) : null)),
      /** All instances together: stored appraisals / the instances' CPU seconds. */
      appraisalsPerInstanceCpuSecond: totalInstanceCpu > 0 ? round(stored / totalInstanceCpu, 0)! : null,
      postgres: { backends: r1.postgres.size, cpuSeconds: round(postgresCpu, 2), cores: round(postgresCpu / wall, 2), appraisalsPerCpuSecond: postgresCpu > 0 ? round(stored / postgresCpu, 0) : null },
      haproxyCores: round(spent(r0.haproxy, r1.haproxy) / wall, 2),
      redisServerCores: round(spent(r0.redis, r1.redis) / wall, 2),
      /** Where the machine's CPU went in the window; thisProcessCores is the load generator (devices and the API calls). */
      machineCpu,
      loopLatencyMs: latencySummary(latencies),
      refusedChallenges: refusals,
      reissued,
      outstandingAfterDrain,
      deviceErrors: { count: deviceErrorCount, first: deviceErrors, disconnects },
      setup: { seconds: round((r0.at - setupT0) / 1000, 1), fleetSeconds: round(fleetSeconds, 1), devicesWithoutFirstResult: withoutFirstResult },
    };
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  const devices = numberArg('devices', 200, { integer: true, min: 1 });
  const seconds = numberArg('seconds', 15);
  const warmupSeconds = numberArg('warmup-seconds', 3, { min: 0 });
  const counts = instancesArg();
  if (!HAPROXY) throw new Error('bench:scale needs haproxy (apt-get install haproxy)');
  if (!redisReachable()) throw new Error('bench:scale needs Redis on 127.0.0.1:6379');
  const machine = machineInfo();
  const pg = new Client({ connectionString: BENCH_PG_SERVER });
  await pg.connect();
  const runs = [];
  try {
    for (const n of counts) runs.push(await runCluster(n, { devices, seconds, warmupSeconds, pg }));
  } finally {
    await pg.end();
  }
  const base = runs.find((r) => r.instances === 1) ?? runs[0];
  const relative = (v: number | null, b: number | null) => (v !== null && b ? round(v / b, 2) : null);
  const result = {
    bench: 'scale',
    devices,
    seconds,
    warmupSeconds,
    load: 'closed loop per device: next challenge (POST /api/v1/devices/<id>/attest through HAProxy, any instance) when its result arrives',
    postgresConnection: benchPgConnection(),
    front: 'HAProxy: operator API round robin per request, device HTTPS and MQTT as TCP, MQTT least connections',
    redis: 'redis://127.0.0.1:6379/<a free database number per run> (keys apart; pub/sub channels are shared across numbers)',
    baseline: `${base.instances} instance(s), same run`,
    runs: runs.map((r) => ({
      ...r,
      vsBaseline: { appraisalsPerSecond: relative(r.appraisalsPerSecond, base.appraisalsPerSecond), appraisalsPerInstanceCpuSecond: relative(r.appraisalsPerInstanceCpuSecond, base.appraisalsPerInstanceCpuSecond) },
    })),
    machine,
  };
  const line = (r: (typeof result.runs)[number]) =>
    `scale N=${r.instances}: ${r.appraisalsPerSecond} appraisals/s total (${r.vsBaseline.appraisalsPerSecond} x N=${base.instances}), ` +
    `${r.appraisalsPerInstanceCpuSecond} appraisals per instance CPU-second (${r.vsBaseline.appraisalsPerInstanceCpuSecond} x N=${base.instances}; by instance ${r.appraisalsPerCpuSecondByInstance.join('/')}, ` +
    `cores ${r.instanceCores.join('/')}, devices ${r.connectedByInstance.join('/')}), postgres ${r.postgres.cores} cores (${r.postgres.backends} backends of this database), ` +
    `haproxy ${r.haproxyCores}, redis ${r.redisServerCores}, load generator ${r.machineCpu.thisProcessCores} cores; p99 loop ${r.loopLatencyMs.p99} ms; load ${r.loadAvg1mAtStart}`;
  // The convention's JSON line and summary, then one line per further N.
  emit(result, line(result.runs[0]));
  for (const r of result.runs.slice(1)) process.stdout.write(line(r) + '\n');
}

/* -------------------------------------------------------------------- devices (worker thread) */

function workerMain(): Promise<void> {
  return runFleetWorker({ reconnectPeriodMs: 0 });
}

if (isMainThread) main().catch(fail);
else workerMain().catch(workerFailed);
