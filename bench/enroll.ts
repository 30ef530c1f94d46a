/**
 * Enrollment end to end: device certificates issued per second through `POST /enroll` on the
 * device HTTPS listener, the service in this process on a fresh PostgreSQL database.
 *
 *   npm run bench:enroll [-- --clients 32 --count 2000 --warmup 3000 --openssl-seconds 3]
 *
 * Before the clock: `openssl speed -seconds 3 ecdsap256` (the baseline: ECDSA P-256 signatures
 * per second of one core), one fresh P-256 key + CSR per enrollment (Node's WebCrypto and
 * @peculiar/x509), the service, a product and its enrollment tokens (minted through the API).
 * The clients run in a worker thread (its own event loop, as remote devices would have), each of
 * the `clients` lanes sending one request at a time on a keep-alive HTTPS agent trusting
 * `GET /pki/ca`; `warmup` enrollments open the connections and warm the JIT: a fresh process
 * runs the enrollment path partly unoptimised for its first few thousand requests while V8's
 * compiler threads optimise it (about 0.5 CPU ms a certificate more after 200, 0.1 after 3,000:
 * see `v8Helpers`), which a running service is past within seconds. Timed: `count`
 * enrollments. Every response must be 201; a sample of certificates is checked (CN = deviceId,
 * the requested key); devices and certificates are counted in PostgreSQL afterwards.
 *
 * Prints one JSON line and a one-line summary: certs/s, latency p50/p99, the ratio
 * certs/s ÷ openssl signs/s, where the CPU went. Goal: >= 1,000 certs/s.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as x509 from '@peculiar/x509';
import type { BenchService } from './support/bench-service';
import { fetchCaPem, makeDeviceRequest, postEnroll } from './support/enrollment-client';
import { startWorker, workerFailed, WorkerChannel } from './support/worker-channel';
import { cpuMeter, cpuOfPids, cpuSecondsBetween, currentThreadId, emit, fail, flagArg, latencySummary, machineInfo, numberArg, opensslEcdsaP256Speed, round, rssSampler, threadCpuMeter, threadIds } from './support/measure';

const GOAL_CERTS_PER_SECOND = 1000;
const CHECKED_SAMPLE = 25;
/** The threads this process starts with (main, V8's platform threads), before any worker: see threadCpuMeter. */
const STARTUP_THREADS = new Set(isMainThread ? threadIds() : []);

interface WorkerInput {
  deviceUrl: string;
  caPem: string;
  csrs: string[];
  tokens: string[];
  clients: number;
  warmup: number;
  count: number;
}

interface WorkerDone {
  t: 'done';
  elapsedMs: number;
  latencies: Float64Array;
  statuses: Record<string, number>;
  errors: string[];
  checked: number;
}

async function main(): Promise<void> {
  const clients = numberArg('clients', 32, { integer: true, min: 1 });
  const count = numberArg('count', 2000, { integer: true, min: 1 });
  const warmup = numberArg('warmup', Math.max(clients * 4, 3000), { integer: true, min: 0 });
  const opensslSeconds = numberArg('openssl-seconds', 3, { integer: true, min: 1 });
  const machine = machineInfo();

  const openssl = opensslEcdsaP256Speed(opensslSeconds);

  const g0 = performance.now();
  const csrs: string[] = [];
  for (let i = 0; i < count + warmup; i++) csrs.push((await makeDeviceRequest()).csrPem);
  const csrSeconds = (performance.now() - g0) / 1000;

  const files = await measure({}, csrs, { clients, warmup, count });
  let token: Phase | { skipped: string };
  const pkcs11 = hasSoftHsm();
  if (pkcs11 && !flagArg('no-pkcs11')) {
    const t = await initSoftHsmToken();
    try {
      token = await measure(t.env, csrs, { clients, warmup, count });
    } finally {
      t.remove();
    }
  } else {
    token = { skipped: pkcs11 ? '--no-pkcs11' : `no SoftHSM2 (${SOFTHSM_MODULE})` };
  }

  const ok = files.issued;
  const result = {
    bench: 'enroll',
    clients,
    count,
    warmup,
    keyType: 'P-256',
    ...files,
    baseline: { command: openssl.command, opensslSignPerSecond: openssl.signPerSecond, opensslVerifyPerSecond: openssl.verifyPerSecond, note: 'one core, user CPU time' },
    ratioToOpensslSign: round(files.rate / openssl.signPerSecond, 4),
    goal: { certsPerSecond: GOAL_CERTS_PER_SECOND, met: files.rate >= GOAL_CERTS_PER_SECOND },
    pkcs11: 'certsPerSecond' in token ? { module: SOFTHSM_MODULE, certsPerSecond: token.certsPerSecond, latencyMs: token.latencyMs, cpuMsPerCertificate: token.cpuMsPerCertificate, cpuMsPerCertificateOwnBackends: token.cpuMsPerCertificateOwnBackends, threadCpuMsPerCertificate: token.threadCpuMsPerCertificate, cpu: token.cpu, issued: token.issued, ratioToOpensslSign: round(token.rate / openssl.signPerSecond, 4) } : token,
    setup: { csrSeconds: round(csrSeconds, 2), clientsIn: 'worker thread of this process' },
    machine,
  };
  const cpuReport = files.cpu;
  const tc: Record<string, number | null> = files.threadCpuMsPerCertificate;
  const lat = files.latencyMs;
  emit(
    result,
    `enroll: ${files.certsPerSecond} certs/s (${clients} HTTPS clients, ${ok}/${count} issued and stored in PostgreSQL), ` +
      `latency p50 ${lat.p50} ms p99 ${lat.p99} ms; openssl ecdsap256 ${openssl.signPerSecond} signs/s -> ratio ${result.ratioToOpensslSign}; ` +
      `goal >= ${GOAL_CERTS_PER_SECOND} certs/s ${result.goal.met ? 'MET' : 'NOT met'}; CPU: process ${cpuReport.thisProcessCores}, postgres ${cpuReport.postgresCores}, ` +
      `other ${cpuReport.otherCores} of ${cpuReport.cpus} cores, service loop ${Math.round(cpuReport.mainLoopUtilization * 100)}% busy, ${files.cpuMsPerCertificate} CPU ms/cert ` +
      `(service main thread ${tc.mainThread}, bench clients ${tc.benchClients}, other threads ${tc.otherThreads}: workers ${tc.workers}, V8 helpers ${tc.v8Helpers}; ` +
      `${files.cpuMsPerCertificateOwnBackends} with only this database's PostgreSQL backends, ${tc.postgresBackends}); ` +
      `grouped writes: ${files.groupedWrites.calls} claims in ${files.groupedWrites.groups} statements (largest ${files.groupedWrites.largest}); ` +
      ('certsPerSecond' in token ? `SoftHSM2 token: ${token.certsPerSecond} certs/s (${token.cpuMsPerCertificate} CPU ms/cert)` : `SoftHSM2: skipped (${token.skipped})`),
  );
  if (ok !== count || ('issued' in token && token.issued !== count)) process.exitCode = 1;
}

type Phase = Awaited<ReturnType<typeof measure>>;

/** One timed run against a fresh service and database (`env`: e.g. the PKCS#11 settings). */
async function measure(env: Record<string, string>, csrs: string[], o: { clients: number; warmup: number; count: number }) {
  const { clients, warmup, count } = o;
  // The service's modules are loaded on the main thread only: the client worker runs this file too.
  const { createProduct, createTenant, mintTokens, queryBenchDb, startBenchService } = await import('./support/bench-service');
  const { EnrollmentService } = await import('@fleetguard/fleet/nest');
  const service: BenchService = await startBenchService(env);
  let worker: WorkerChannel | undefined;
  try {
    const manufacturer = await createTenant(service, 'manufacturer');
    const product = await createProduct(service, manufacturer.key);
    const tokens = await mintTokens(service, manufacturer.key, product.id, count + warmup);
    const caPem = await fetchCaPem(service.urls.operator);

    const input: WorkerInput = { deviceUrl: service.urls.device, caPem, csrs, tokens, clients, warmup, count };
    worker = startWorker(__filename, input);
    const ready = await worker.next<{ tid: number | null }>('ready');
    const before = (await queryBenchDb<{ n: number }>(service.databaseUrl, 'SELECT count(*)::int AS n FROM certificates'))[0].n;
    const grouping = service.app.get(EnrollmentService).claims.stats;
    const groupsBefore = { ...grouping };
    // The PostgreSQL backends serving this run's database (the service's pool): what the service
    // costs PostgreSQL, apart from what other users of the server spend meanwhile.
    const backends = async () => (await queryBenchDb<{ pid: number }>(service.databaseUrl, 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).map((r) => Number(r.pid));
    const backendsBefore = cpuOfPids(await backends());

    const cpu = cpuMeter();
    const threads = threadCpuMeter({ benchClients: ready.tid }, STARTUP_THREADS);
    const rss = rssSampler();
    const window0 = process.hrtime.bigint() / 1000n;
    worker.send('go');
    const done = await worker.next<WorkerDone>('done');
    const window1 = process.hrtime.bigint() / 1000n;
    const cpuReport = cpu();
    const threadCpu = threads(done.statuses['201'] ?? 0);
    const backendSeconds = cpuSecondsBetween(backendsBefore, cpuOfPids([...backendsBefore.keys(), ...(await backends())]));
    const memory = rss.stop();

    const stored = (
      await queryBenchDb<{ devices: number; certificates: number }>(
        service.databaseUrl,
        'SELECT (SELECT count(*) FROM devices)::int AS devices, (SELECT count(*) FROM certificates)::int AS certificates',
      )
    )[0];

    const ok = done.statuses['201'] ?? 0;
    const seconds = done.elapsedMs / 1000;
    const certsPerSecond = ok / seconds;
    return {
      rate: certsPerSecond,
      issued: ok,
      statuses: done.statuses,
      firstErrors: done.errors,
      certificatesChecked: done.checked,
      seconds: round(seconds, 2),
      certsPerSecond: round(certsPerSecond, 0),
      latencyMs: latencySummary(done.latencies),
      // CPU of this process (service + client worker) and PostgreSQL per certificate: less sensitive to other load than the rate.
      // Every postgres process on the machine (what the run cost the server, with whatever else it served meanwhile)...
      cpuMsPerCertificate: round((((cpuReport.thisProcessCores ?? 0) + (cpuReport.postgresCores ?? 0)) * seconds * 1000) / Math.max(ok, 1), 2),
      // ...and with only the backends of this run's database (not the server's WAL writer, checkpointer, other databases).
      cpuMsPerCertificateOwnBackends: round(((cpuReport.thisProcessCores ?? 0) * seconds * 1000 + backendSeconds * 1000) / Math.max(ok, 1), 2),
      // CPU ms per certificate by thread: the service's main thread, the bench's clients (a worker thread), the rest
      // (otherThreads; split into workers: CSR check workers and libuv's pool, and v8Helpers: JIT compiler and GC threads),
      // and the PostgreSQL backends of this run's database.
      threadCpuMsPerCertificate: { ...threadCpu, postgresBackends: round((backendSeconds * 1000) / Math.max(ok, 1), 2) },
      // The timed phase on the monotonic clock (µs), as --cpu-prof profiles time their samples: see bench/profile-summary.ts.
      timedWindowMonotonicUs: [Number(window0), Number(window1)],
      groupedWrites: { groups: grouping.groups - groupsBefore.groups, calls: grouping.calls - groupsBefore.calls, largest: grouping.largest },
      persisted: { database: 'postgresql', devices: stored.devices, certificates: stored.certificates, certificatesAddedTimed: stored.certificates - before },
      cpu: cpuReport,
      rssMiB: memory,
    };
  } finally {
    await worker?.close();
    await service.stop();
  }
}

const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

function hasSoftHsm(): boolean {
  return fs.existsSync(SOFTHSM_MODULE) && spawnSync('softhsm2-util', ['--version']).status === 0;
}

/** A SoftHSM2 token of its own (own config and token directory) with a P-256 issuing key; removed afterwards. */
async function initSoftHsmToken(): Promise<{ env: Record<string, string>; remove: () => void }> {
  const { Pkcs11Token } = await import('@fleetguard/pki');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-bench-hsm-'));
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  // SoftHSM2 reads its configuration from the environment when the library is initialised.
  process.env.SOFTHSM2_CONF = conf;
  const label = 'fg-bench-ca';
  const pin = '246810';
  const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '13579111'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${r.stderr}`);
  const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: label, pin });
  token.generateKey('issuing-ca');
  token.close();
  return {
    env: { FLEETGUARD_CA_PKCS11_MODULE: SOFTHSM_MODULE, FLEETGUARD_CA_PKCS11_TOKEN: label, FLEETGUARD_CA_PKCS11_PIN: pin, FLEETGUARD_CA_PKCS11_KEY_LABEL: 'issuing-ca' },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/* -------------------------------------------------------------------- client side (worker thread) */

async function workerMain(): Promise<void> {
  const { deviceUrl, caPem, csrs, tokens, clients, warmup, count } = workerData as WorkerInput;
  const url = new URL(deviceUrl);
  const agent = new https.Agent({ keepAlive: true, maxSockets: clients, ca: caPem });
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  const latencies = new Float64Array(count);
  const issued: Array<{ index: number; deviceId: string; certificate: string }> = [];

  const run = async (from: number, to: number, timed: boolean) => {
    let next = from;
    await Promise.all(
      Array.from({ length: Math.min(clients, to - from) }, async () => {
        while (next < to) {
          const i = next++;
          const t0 = performance.now();
          const r = await postEnroll(url, agent, tokens[i], csrs[i]);
          if (!timed) {
            if (r.status !== 201) throw new Error(`warm-up enrollment failed: HTTP ${r.status}: ${r.error}`);
            continue;
          }
          latencies[i - from] = performance.now() - t0;
          statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
          if (r.status !== 201 || !r.certificate?.includes('BEGIN CERTIFICATE')) {
            if (errors.length < 5) errors.push(`HTTP ${r.status}: ${r.error ?? 'no certificate'}`);
          } else if (issued.length < CHECKED_SAMPLE || i % Math.max(1, Math.floor(count / CHECKED_SAMPLE)) === 0) {
            issued.push({ index: i, deviceId: r.deviceId!, certificate: r.certificate });
          }
        }
      }),
    );
  };

  await run(0, warmup, false);
  parentPort!.postMessage({ t: 'ready', tid: currentThreadId() });
  await new Promise((r) => parentPort!.once('message', r));
  const t0 = performance.now();
  await run(warmup, warmup + count, true);
  const elapsedMs = performance.now() - t0;

  // After the clock: the certificates are for the requested key and name the device.
  let checked = 0;
  for (const c of issued.slice(0, CHECKED_SAMPLE * 2)) {
    const cert = new X509Certificate(c.certificate);
    const requested = Buffer.from(new x509.Pkcs10CertificateRequest(csrs[c.index]).publicKey.rawData);
    if (!cert.publicKey.export({ type: 'spki', format: 'der' }).equals(requested)) throw new Error(`certificate for ${c.deviceId} is not for the requested key`);
    if (!cert.subject.split('\n').includes(`CN=${c.deviceId}`)) throw new Error(`certificate for ${c.deviceId} has subject ${cert.subject}`);
    checked++;
  }
  agent.destroy();
  const done: WorkerDone = { t: 'done', elapsedMs, latencies, statuses, errors, checked };
  parentPort!.postMessage(done, [latencies.buffer]);
  // Alive until the main thread has read this thread's CPU time (it ends the worker).
  parentPort!.on('message', () => undefined);
}

if (isMainThread) main().catch(fail);
else workerMain().catch(workerFailed);
