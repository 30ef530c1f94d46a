/**
 * Many concurrent mutual-TLS MQTT devices on one instance, and a reconnect storm of all of them.
 *
 *   npm run bench:connections [-- --devices 10000 --connect-rate 500 --storm 1 --client-processes 2]
 *   (and --max-handshakes, --handshake-queue, --handshake-wait: the broker's admission settings for the run)
 *
 * The service runs in this process on a fresh PostgreSQL database; the devices (the `mqtt` npm
 * package, one client each, with its own enrolled certificate) run in `--client-processes` child
 * processes (the devices split between them: one process for 10,000 clients used a whole core and
 * was itself the limit), so this process's RSS is the service's (plus this driver's few MiB). The
 * CPU time of the service process and of the clients is reported per phase, to tell whether the
 * clients or the service bound a phase. Phases:
 * 1. Baseline in the same run: a bare Node TLS server in this process with the same server
 *    certificate, requiring the same client certificates, accepts `--baseline` handshakes from
 *    the child (no MQTT, no admission, no database): the handshake ceiling of this machine now.
 * 2. Connect: all devices connect at once (a refused one retries after 1 s doubling to 60 s,
 *    jittered, as the device protocol asks). Reported: time
 *    until all have a CONNACK, accept rate, refusals by reason, RSS before and after and per
 *    connection, and the latency of an operator API call made every 100 ms meanwhile.
 * 3. Storm: every device's socket is destroyed at once and each reconnects; the same figures again.
 * 4. Restart storm (`--restarts`, default 1): the service is closed (every connection with it) and
 *    started again in this process on the same database, certs directory and ports, while the
 *    devices retry with their back-off; timed from the close, with the new instance's boot time
 *    and the time from its listening to all devices back. Every provider, cache and pool of the
 *    new instance is new (its certificate-status cache warmed at boot as at any start); what an
 *    in-process restart keeps that a new process would not is V8's compiled code. API calls that
 *    fail while no instance listens are counted apart (`apiFailuresWhileDown`).
 * The connect-rate limit (FLEETGUARD_MQTT_CONNECT_RATE) is what bounds the accept rate by design;
 * `--connect-rate` sets it for the run.
 */
import 'reflect-metadata';
import { ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import * as mqtt from 'mqtt';
import { CaService } from '@fleetguard/pki/nest';
import { createProduct, createTenant, mintTokens, readCounter, startBenchService } from './support/bench-service';
import { EnrolledDevice, enrollDevices, fetchCaPem } from './support/enrollment-client';
import { emit, fail, latencySummary, machineInfo, numberArg, round, sleep, stringArg } from './support/measure';

const MiB = 1024 * 1024;

/* ------------------------------------------------------------------ child: the devices */

interface ClientsInput {
  file: string;
  /** Handshakes the baseline runs at once from this process. */
  baselineConcurrency: number;
  host: string;
  port: number;
  baselinePort: number;
  baseline: number;
}

type ToChild = { t: 'baseline' } | { t: 'connect' } | { t: 'storm' } | { t: 'quit' };
/** `cpuMs`: the child's CPU time so far (user + system). */
type FromChild =
  | { t: 'ready'; cpuMs: number }
  | { t: 'baseline-done'; ms: number; ok: number; failed: number; cpuMs: number }
  | { t: 'progress'; connected: number; errors: number; firstError?: string; cpuMs: number };

async function clientsMain(): Promise<void> {
  const input = JSON.parse(stringArg('clients')!) as ClientsInput;
  const { devices, caPem } = JSON.parse(fs.readFileSync(input.file, 'utf8')) as { devices: EnrolledDevice[]; caPem: string };
  fs.rmSync(input.file, { force: true });
  const send = (m: FromChild) => process.send!(m);
  // Each device's key and chain are loaded once, as on a device (not parsed again at every attempt).
  const contexts = devices.map((d) => tls.createSecureContext({ key: d.keyPem, cert: d.certChainPem, ca: caPem }));
  const clients: mqtt.MqttClient[] = [];
  let connected = 0;
  let errors = 0;
  let firstError: string | undefined;
  const up = new Set<number>();
  let quitting = false;
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const report = setInterval(() => send({ t: 'progress', connected, errors, firstError, cpuMs: cpuMs() }), 100);
  report.unref();

  process.on('message', (m: ToChild) => {
    if (m.t === 'baseline') void baseline();
    else if (m.t === 'connect') connectAll();
    else if (m.t === 'storm') {
      // Every socket dropped at once, as a broker restart or a network blip would; mqtt.js reconnects each.
      for (const c of clients) (c as unknown as { stream?: { destroy(): void } }).stream?.destroy();
    } else if (m.t === 'quit') {
      quitting = true;
      for (const c of clients) c.end(true);
      setTimeout(() => process.exit(0), 200);
    }
  });

  async function baseline() {
    const t0 = performance.now();
    let ok = 0;
    let failed = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: input.baselineConcurrency }, async () => {
        while (next < input.baseline) {
          next++;
          await new Promise<void>((resolve) => {
            const s = tls.connect({ host: input.host, port: input.baselinePort, secureContext: contexts[next % devices.length], servername: 'localhost' });
            s.once('secureConnect', () => (ok++, s.destroy(), resolve()));
            s.once('error', () => (failed++, resolve()));
          });
        }
      }),
    );
    send({ t: 'baseline-done', ms: performance.now() - t0, ok, failed, cpuMs: cpuMs() });
  }

  function connectAll() {
    devices.forEach((d, i) => {
      const c = mqtt.connect({
        host: input.host,
        port: input.port,
        protocol: 'mqtts',
        clientId: d.deviceId,
        secureContext: contexts[i],
        servername: 'localhost',
        protocolVersion: 4,
        clean: true,
        keepalive: 300,
        // Reconnects are this bench's, as docs/device-protocol.md asks of a device: 1 s doubling to
        // 60 s, each delay jittered (mqtt.js's own retry is a fixed period, which turns a storm into
        // a synchronized retry wave).
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      } as mqtt.IClientOptions); // secureContext goes through to tls.connect (mqtt.js's types do not list it)
      let attempt = 0;
      let retry: NodeJS.Timeout | undefined;
      c.on('connect', () => {
        attempt = 0;
        if (!up.has(i)) {
          up.add(i);
          connected++;
        }
      });
      c.on('close', () => {
        if (up.delete(i)) connected--;
        if (quitting || retry) return;
        const delay = Math.min(60_000, 1000 * 2 ** attempt++) * (0.5 + Math.random() / 2);
        retry = setTimeout(() => {
          retry = undefined;
          c.reconnect();
        }, delay);
      });
      c.on('error', (e) => {
        errors++;
        firstError ??= e.message;
      });
      clients.push(c);
    });
  }
  send({ t: 'ready', cpuMs: cpuMs() });
}

/* ------------------------------------------------------------------ main: the service and the clock */

interface PhaseResult {
  seconds: number | null;
  acceptPerSecond: number | null;
  connected: number;
  /** Devices connected at the end of each second of the phase. */
  timeline: number[];
  /** TLS handshakes in progress and connections waiting for a slot, at the end of each second (the broker's gauges). */
  admissionTimeline: Array<[number, number]>;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssPeakMiB: number;
  refusals: Record<string, number>;
  handshakesInProgressAfter: number;
  clientErrors: number;
  firstClientError: string | null;
  /** Cores used on average over the phase: the service's process, and all the client processes together. */
  serviceCores: number;
  clientCores: number;
  /** The service process's CPU time over the phase per device connected in it (user + system). */
  serviceCpuMsPerConnect: number;
  /** The service process's CPU time over the phase, in ms: user and system, and by thread name (Linux /proc; the main thread is `node`). */
  serviceCpuSplitMs: { user: number; system: number; threads: Record<string, number> };
  /** The machine's 1-minute load average at the end of the phase. */
  loadAvg1m: number;
  apiLatencyMs: ReturnType<typeof latencySummary>;
  apiFailures: number;
  /** Restart storms only: API calls that failed before the new instance listened, the close and boot times, and the time from listening to all devices back. */
  restart?: { apiFailuresWhileDown: number; closeSeconds: number; bootSeconds: number; listeningToAllBackSeconds: number | null };
  /** The phase on the monotonic clock in µs, for `profile-summary --from/--to` (node --cpu-prof). */
  timedWindowMonotonicUs: [number, number];
}

/** CPU time per thread name of this process, in ms (Linux; empty elsewhere): threads of one name (libuv's pool, V8's GC helpers) summed. */
function threadCpuMs(): Map<string, number> {
  const byName = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = fs.readdirSync('/proc/self/task');
  } catch {
    return byName;
  }
  const tick = 1000 / 100; // USER_HZ
  for (const t of tasks) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tick);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName;
}

const REASONS = ['connect-rate', 'handshakes-in-progress', 'handshake-wait', 'max-connections', 'tls'];

async function main(): Promise<void> {
  const devicesN = numberArg('devices', 10_000, { integer: true, min: 1 });
  const connectRate = numberArg('connect-rate', 500, { integer: true, min: 1 });
  const maxHandshakes = numberArg('max-handshakes', 0, { integer: true, min: 0 });
  const handshakeQueue = numberArg('handshake-queue', -1, { integer: true, min: -1 });
  const handshakeWait = numberArg('handshake-wait', 0, { integer: true, min: 0 });
  const baselineN = numberArg('baseline', 2000, { integer: true, min: 1 });
  const storm = numberArg('storm', 1, { integer: true, min: 0 });
  const restarts = numberArg('restarts', 1, { integer: true, min: 0 });
  const timeoutS = numberArg('timeout', 180, { min: 10 });
  const processesN = Math.min(16, numberArg('client-processes', 2, { integer: true, min: 1 }));
  const service = await startBenchService({
    FLEETGUARD_ATTEST_INTERVAL_SECONDS: '86400',
    FLEETGUARD_MQTT_CONNECT_RATE: String(connectRate),
    ...(maxHandshakes ? { FLEETGUARD_MQTT_MAX_HANDSHAKES: String(maxHandshakes) } : {}),
    ...(handshakeQueue >= 0 ? { FLEETGUARD_MQTT_HANDSHAKE_QUEUE: String(handshakeQueue) } : {}),
    ...(handshakeWait ? { FLEETGUARD_MQTT_HANDSHAKE_WAIT_SECONDS: String(handshakeWait) } : {}),
    FLEETGUARD_METRICS_PUBLIC: 'true', // the refusal counters and the handshake gauge are read from /metrics
    ...(process.env.FLEETGUARD_LOG_LEVEL ? { FLEETGUARD_LOG_LEVEL: process.env.FLEETGUARD_LOG_LEVEL } : {}),
  });
  let children: ChildProcess[] = [];
  let baselineServer: tls.Server | undefined;
  try {
    const manufacturer = await createTenant(service, 'manufacturer');
    const product = await createProduct(service, manufacturer.key);
    const caPem = await fetchCaPem(service.urls.operator);
    const tEnroll = performance.now();
    const tokens = await mintTokens(service, manufacturer.key, product.id, devicesN);
    const devices = await enrollDevices(service.urls.device, caPem, tokens, 16);
    const enrollSeconds = (performance.now() - tEnroll) / 1000;
    process.stderr.write(`enrolled ${devices.length} devices in ${round(enrollSeconds)} s\n`);

    // The baseline: a bare TLS server with the broker's own certificate, requiring a device certificate from the same CA.
    const t = service.app.get(CaService).serverTls;
    baselineServer = tls.createServer({ key: t.key, cert: t.cert, ca: t.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (s) => s.end());
    baselineServer.on('tlsClientError', (_e, s) => s.destroy());
    await new Promise<void>((r) => baselineServer!.listen(0, '127.0.0.1', () => r()));
    const mqttUrl = new URL(service.urls.mqtt);
    const baselinePort = (baselineServer.address() as { port: number }).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-conn-'));
    /** One client process: its share of the devices, its last progress report, and a way to wait for its next message of a kind. */
    interface Clients {
      proc: ChildProcess;
      last: Extract<FromChild, { t: 'progress' }>;
      next<T extends FromChild['t']>(t: T): Promise<Extract<FromChild, { t: T }>>;
    }
    const clients: Clients[] = [];
    for (let k = 0; k < processesN; k++) {
      const file = path.join(dir, `devices-${k}.json`);
      fs.writeFileSync(file, JSON.stringify({ devices: devices.filter((_d, i) => i % processesN === k), caPem }));
      const input: ClientsInput = {
        file,
        host: '127.0.0.1',
        port: Number(mqttUrl.port),
        baselinePort,
        baseline: Math.ceil(baselineN / processesN),
        baselineConcurrency: Math.max(1, Math.round(64 / processesN)),
      };
      const proc = fork(__filename, ['--clients', JSON.stringify(input)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] });
      const waiters: Array<(m: FromChild) => void> = [];
      const c: Clients = {
        proc,
        last: { t: 'progress', connected: 0, errors: 0, cpuMs: 0 },
        next: <T extends FromChild['t']>(t: T) =>
          new Promise<Extract<FromChild, { t: T }>>((resolve) => {
            const w = (m: FromChild) => (m.t === t ? resolve(m as Extract<FromChild, { t: T }>) : waiters.push(w));
            waiters.push(w);
          }),
      };
      proc.on('message', (m: FromChild) => {
        if (m.t === 'progress') c.last = m;
        else c.last = { ...c.last, cpuMs: m.cpuMs };
        for (const w of waiters.splice(0)) w(m);
      });
      clients.push(c);
    }
    children = clients.map((c) => c.proc);
    devices.length = 0; // the children have them now; this process keeps only the service's memory
    const sendAll = (m: ToChild) => clients.forEach((c) => c.proc.send(m));
    const connectedNow = () => clients.reduce((n, c) => n + c.last.connected, 0);
    const errorsNow = () => clients.reduce((n, c) => n + c.last.errors, 0);
    const clientCpuMs = () => clients.reduce((n, c) => n + c.last.cpuMs, 0);
    const serviceCpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    await Promise.all(clients.map((c) => c.next('ready')));

    const bCpu0 = { service: serviceCpuMs(), clients: clientCpuMs() };
    const bt0 = performance.now();
    sendAll({ t: 'baseline' });
    const bs = await Promise.all(clients.map((c) => c.next('baseline-done')));
    const b = { ms: performance.now() - bt0, ok: bs.reduce((n, x) => n + x.ok, 0), failed: bs.reduce((n, x) => n + x.failed, 0) };
    const baselineCores = {
      service: round((serviceCpuMs() - bCpu0.service) / b.ms, 2),
      clients: round((bs.reduce((n, x) => n + x.cpuMs, 0) - bCpu0.clients) / b.ms, 2),
    };
    baselineServer.close();
    const baselinePerSecond = b.ok / (b.ms / 1000);

    const refusals = async () => Object.fromEntries(await Promise.all(REASONS.map(async (r) => [r, await readCounter(service, 'fleetguard_mqtt_rejections_total', { reason: r })] as const)));

    /** Runs one phase: sends `cmd`, waits until every device is connected (again), sampling RSS and API latency. */
    const phase = async (cmd: ToChild | 'restart', waitForDropFirst: boolean): Promise<PhaseResult> => {
      global.gc?.();
      const rssBefore = process.memoryUsage.rss();
      let peak = rssBefore;
      // Read before the phase, a restart's too: the counters live in this process's registry
      // (module scope), so a restarted instance goes on counting from where the last one stopped.
      const r0 = await refusals();
      let listening: number | null = cmd === 'restart' ? null : 0;
      let downFailures = 0;
      const errors0 = errorsNow();
      const cpu0 = { service: serviceCpuMs(), clients: clientCpuMs() };
      const usage0 = process.cpuUsage();
      const threads0 = threadCpuMs();
      const latencies: number[] = [];
      let apiFailures = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const s = performance.now();
          try {
            const res = await fetch(`${service.urls.operator}/api/v1/devices?limit=1`, { headers: { authorization: `Bearer ${manufacturer.key}` } });
            await res.arrayBuffer();
            if (res.status !== 200) apiFailures++;
          } catch {
            if (listening === null) downFailures++;
            else apiFailures++;
          }
          latencies.push(performance.now() - s);
          peak = Math.max(peak, process.memoryUsage.rss());
          await sleep(100);
        }
      })();
      const window0 = Number(process.hrtime.bigint() / 1000n);
      const t0 = performance.now();
      let restartTimes: { closeMs: number; bootMs: number } | undefined;
      let restartError: unknown;
      if (cmd === 'restart') {
        void service.restart().then(
          (t) => ((restartTimes = t), (listening = performance.now())),
          (e: unknown) => (restartError = e),
        );
      } else sendAll(cmd);
      if (waitForDropFirst) {
        for (let i = 0; i < 100 && connectedNow() > devicesN * 0.5; i++) await sleep(50);
      }
      let done: number | null = null;
      // Devices connected at the end of each second of the phase: how a storm converges, not only when.
      const timeline: number[] = [];
      const admissionTimeline: Array<[number, number]> = [];
      while (performance.now() - t0 < timeoutS * 1000) {
        if (restartError) throw restartError;
        if ((performance.now() - t0) / 1000 >= timeline.length + 1) {
          timeline.push(connectedNow());
          void Promise.all([readCounter(service, 'fleetguard_mqtt_tls_handshakes_in_progress'), readCounter(service, 'fleetguard_mqtt_tls_handshakes_waiting')]).then(
            (g) => admissionTimeline.push(g),
            () => undefined,
          );
        }
        if (connectedNow() >= devicesN) {
          done = performance.now();
          break;
        }
        await sleep(50);
      }
      const wallMs = performance.now() - t0;
      const window1 = Number(process.hrtime.bigint() / 1000n);
      const serviceCpuPhaseMs = serviceCpuMs() - cpu0.service;
      const usage = process.cpuUsage(usage0);
      const threads1 = threadCpuMs();
      const threads = Object.fromEntries([...threads1].map(([name, ms]) => [name, round(ms - (threads0.get(name) ?? 0))!] as const).filter(([, ms]) => ms > 0));
      const cores = { service: round((serviceCpuMs() - cpu0.service) / wallMs, 2)!, clients: round((clientCpuMs() - cpu0.clients) / wallMs, 2)! };
      sampling = false;
      await sampler;
      const r1 = await refusals();
      const seconds = done === null ? null : (done - t0) / 1000;
      return {
        seconds: seconds === null ? null : round(seconds, 2),
        acceptPerSecond: seconds ? Math.round(devicesN / seconds) : null,
        connected: connectedNow(),
        timeline,
        admissionTimeline,
        rssBeforeMiB: round(rssBefore / MiB)!,
        rssAfterMiB: round(process.memoryUsage.rss() / MiB)!,
        rssPeakMiB: round(peak / MiB)!,
        refusals: Object.fromEntries(REASONS.map((r) => [r, r1[r] - r0[r]])),
        handshakesInProgressAfter: await readCounter(service, 'fleetguard_mqtt_tls_handshakes_in_progress'),
        clientErrors: errorsNow() - errors0,
        firstClientError: clients.find((c) => c.last.firstError)?.last.firstError ?? null,
        serviceCores: cores.service,
        clientCores: cores.clients,
        serviceCpuMsPerConnect: round(serviceCpuPhaseMs / Math.max(1, connectedNow()), 2)!,
        serviceCpuSplitMs: { user: round(usage.user / 1000)!, system: round(usage.system / 1000)!, threads },
        loadAvg1m: round(os.loadavg()[0], 1)!,
        apiLatencyMs: latencySummary(Float64Array.from(latencies).sort()),
        apiFailures,
        ...(restartTimes
          ? {
              restart: {
                apiFailuresWhileDown: downFailures,
                closeSeconds: round(restartTimes.closeMs / 1000, 2)!,
                bootSeconds: round(restartTimes.bootMs / 1000, 2)!,
                listeningToAllBackSeconds: done === null || listening === null ? null : round((done - listening) / 1000, 2)!,
              },
            }
          : {}),
        timedWindowMonotonicUs: [window0, window1],
      };
    };

    const connect = await phase({ t: 'connect' }, false);
    await sleep(2000);
    global.gc?.();
    const settledRss = process.memoryUsage.rss();
    // Per connection held, not per device: after a timed-out connect phase fewer are connected.
    const heldAfterConnect = connectedNow();
    const perConnectionKiB = heldAfterConnect ? round((settledRss - connect.rssBeforeMiB * MiB) / heldAfterConnect / 1024) : null;
    const storms: PhaseResult[] = [];
    for (let i = 0; i < storm; i++) storms.push(await phase({ t: 'storm' }, true));
    const restartStorms: PhaseResult[] = [];
    for (let i = 0; i < restarts; i++) restartStorms.push(await phase('restart', true));
    sendAll({ t: 'quit' });

    const result = {
      bench: 'connections',
      machine: machineInfo(),
      devices: devicesN,
      connectRateLimit: connectRate,
      enrollSeconds: round(enrollSeconds),
      clientProcesses: processesN,
      baseline: {
        what: 'bare Node TLS server, same certificates, mutual TLS, no MQTT/admission/database',
        handshakes: b.ok,
        failed: b.failed,
        perSecond: Math.round(baselinePerSecond),
        serviceCores: baselineCores.service,
        clientCores: baselineCores.clients,
      },
      connect,
      settledRssMiB: round(settledRss / MiB),
      connectionsHeld: heldAfterConnect,
      perConnectionKiB,
      storms,
      restartStorms,
      acceptRatioToBaseline: connect.acceptPerSecond ? round(connect.acceptPerSecond / baselinePerSecond, 3) : null,
      stormAcceptRatioToBaseline: storms[0]?.acceptPerSecond ? round(storms[0].acceptPerSecond / baselinePerSecond, 3) : null,
    };
    const s0 = storms[0];
    const restart0 = restartStorms[0];
    emit(
      result,
      `connections: ${connect.connected}/${devicesN} mTLS devices connected in ${connect.seconds ?? 'timeout'} s (${connect.acceptPerSecond ?? '-'}/s, limit ${connectRate}/s; bare TLS baseline ${Math.round(baselinePerSecond)}/s, ratio ${result.acceptRatioToBaseline}), ` +
        `RSS ${result.settledRssMiB} MiB (${perConnectionKiB} KiB/connection), API p99 ${connect.apiLatencyMs.p99} ms` +
        `; cores: service ${connect.serviceCores}, clients ${connect.clientCores} (baseline ${baselineCores.service}/${baselineCores.clients})` +
        (s0 ? `; storm: all back in ${s0.seconds ?? 'timeout'} s (${s0.acceptPerSecond ?? '-'}/s, ratio ${result.stormAcceptRatioToBaseline}, service ${s0.serviceCpuMsPerConnect} ms CPU per connect), ${s0.refusals['connect-rate']} refused by the rate limit, ${s0.refusals['handshakes-in-progress']} by the handshake limit, RSS peak ${s0.rssPeakMiB} MiB, API p99 ${s0.apiLatencyMs.p99} ms, ${s0.apiFailures} API failures` : '') +
        (restart0
          ? `; restart: all back in ${restart0.seconds ?? 'timeout'} s from the close (boot ${restart0.restart?.bootSeconds} s, ${restart0.restart?.listeningToAllBackSeconds ?? '-'} s from listening, service ${restart0.serviceCpuMsPerConnect} ms CPU per connect), RSS peak ${restart0.rssPeakMiB} MiB, API p99 ${restart0.apiLatencyMs.p99} ms, ${restart0.apiFailures} API failures once listening`
          : '') +
        `; load ${result.machine.loadAvg1m}`,
    );
  } finally {
    for (const c of children) c.kill();
    baselineServer?.close();
    await service.stop();
  }
}

if (stringArg('clients') !== undefined) void clientsMain().catch((e) => (fail(e), process.exit(1)));
else void main().then(() => process.exit(process.exitCode ?? 0), (e) => (fail(e), process.exit(1)));
