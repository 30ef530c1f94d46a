/**
 * The embedded MQTT broker (aedes inside the service) against the Mosquitto already running on
 * 127.0.0.1:1883, with the same load from the same client (the `mqtt` npm package):
 * `--publishers` clients each keeping `--inflight` QoS 1 PUBLISHes of `--size` bytes outstanding
 * (the next one goes out when a PUBACK comes back) for `--seconds`. Counted: PUBACKs inside the
 * window (messages/s, and per publisher), publish -> PUBACK latency.
 *
 *   npm run bench:broker [-- --publishers 8 --seconds 10 --size 256 --inflight 16]
 *
 * Not the same test on both sides, and the output says so:
 * - Mosquitto (the baseline) is plain TCP, anonymous, with one subscriber (`<prefix>/#`, QoS 1, in
 *   the main thread) counting what it receives.
 * - Ours is over mutual TLS with device certificates enrolled through `POST /enroll` (devices are
 *   refused without one; there is no plain listener to compare on). Each publisher is a device
 *   publishing to its own `fleet/v1/devices/<id>/status` topic, which the service accepts, records
 *   (`UPDATE devices SET last_seen_at`) before the PUBACK, and counts
 *   (`fleetguard_mqtt_messages_total{kind="status",outcome="accepted"}` on /metrics, read before and
 *   after). A subscriber cannot see these messages: devices may only subscribe to their own
 *   challenge/result topics and device publishes are never forwarded. So the baseline is unfair in
 *   Mosquitto's favour (no TLS, no per-message database write) and in ours (no fan-out to a
 *   subscriber).
 * The publishers run in a worker thread of this process (own event loop); the service runs in the
 * main thread.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as mqtt from 'mqtt';
import { createProduct, createTenant, mintTokens, readCounter, startBenchService } from './support/bench-service';
import { enrollDevices, fetchCaPem } from './support/enrollment-client';
import { cpuMeter, emit, fail, latencySummary, machineInfo, nowMs, numberArg, pidsNamed, processCpuSeconds, round, sleep } from './support/measure';
import { startWorker, workerFailed } from './support/worker-channel';

/** QoS 1 messages each publisher sends before the clock (warm connections and JIT); not counted. */
const WARMUP_PER_PUBLISHER = 20;
const MOSQUITTO_URL = process.env.FLEETGUARD_BENCH_MOSQUITTO ?? 'mqtt://127.0.0.1:1883';

interface PublisherSpec {
  clientId: string;
  topic: string;
  tls?: { key: string; cert: string; ca: string };
}

interface PublishersInput {
  url: string;
  publishers: PublisherSpec[];
  size: number;
  inflight: number;
}

interface PublishersDone {
  t: 'done';
  ackedInWindow: number[];
  ackedAfterWindow: number;
  errors: number;
  firstError?: string;
  latencies: Float64Array;
  lastAckAt: number;
  /** TLS version negotiated by the first publisher, or 'plain'. */
  protocol: string;
}

function payloadOf(size: number): Buffer {
  // JSON, as a device's status would be, padded to the size.
  const head = '{"online":true,"pad":"';
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
}

/** Runs the publishers in a worker for `seconds`; returns what they counted. */
async function drivePublishers(input: PublishersInput, seconds: number) {
  const worker = startWorker(__filename, input);
  try {
    await worker.next('ready', 120_000);
    const cpu = cpuMeter();
    const startAt = nowMs() + 10;
    const endAt = startAt + seconds * 1000;
    worker.send({ t: 'go', startAt, endAt });
    const done = await worker.next<PublishersDone>('done');
    const cpuReport = cpu();
    const acked = done.ackedInWindow.reduce((a, b) => a + b, 0);
    return {
      acked,
      perSecond: round(acked / seconds, 0)!,
      perPublisherPerSecond: done.ackedInWindow.map((n) => round(n / seconds, 0)),
      ackedAfterWindow: done.ackedAfterWindow,
      errors: done.errors,
      firstError: done.firstError,
      pubackLatencyMs: latencySummary(done.latencies),
      protocol: done.protocol,
      cpu: cpuReport,
    };
  } finally {
    await worker.close();
  }
}

async function main(): Promise<void> {
  const publishers = numberArg('publishers', 8, { integer: true, min: 1 });
  const seconds = numberArg('seconds', 10);
  const size = numberArg('size', 256, { integer: true, min: 32 });
  const inflight = numberArg('inflight', 16, { integer: true, min: 1 });
  const machine = machineInfo();
  const run = randomBytes(4).toString('hex');

  /* ---------------------------------------------------------------- Mosquitto, plain */
  const prefix = `fleetguard-bench/${run}`;
  const subscriber = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: `fg-bench-sub-${run}`, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  let received = 0;
  subscriber.on('message', () => received++);
  await subscriber.subscribeAsync(`${prefix}/#`, { qos: 1 });
  const mosquittoPids = pidsNamed('mosquitto');
  const mosquittoCpu = () => mosquittoPids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
  const mosquittoCpu0 = mosquittoCpu();
  const mosquittoT0 = nowMs();
  const mosquitto = await drivePublishers(
    {
      url: MOSQUITTO_URL,
      publishers: Array.from({ length: publishers }, (_, i) => ({ clientId: `fg-bench-pub-${run}-${i}`, topic: `${prefix}/${i}/status` })),
      size,
      inflight,
    },
    seconds,
  );
  const mosquittoCores = mosquittoPids.length ? round((mosquittoCpu() - mosquittoCpu0) / ((nowMs() - mosquittoT0) / 1000), 2) : null;
  // Let the subscriber catch up (until nothing more arrives for 500 ms).
  for (let last = -1, until = nowMs() + 15_000; received !== last && nowMs() < until; ) {
    last = received;
    await sleep(500);
  }
  await subscriber.endAsync();
  const mosquittoTotalAcked = mosquitto.acked + mosquitto.ackedAfterWindow;
  const subscriberReceived = received - WARMUP_PER_PUBLISHER * publishers;

  /* ---------------------------------------------------------------- Fleetguard, mutual TLS */
  const service = await startBenchService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '86400' });
  let ours;
  let counted = 0;
  try {
    const manufacturer = await createTenant(service, 'manufacturer');
    const product = await createProduct(service, manufacturer.key);
    const tokens = await mintTokens(service, manufacturer.key, product.id, publishers);
    const caPem = await fetchCaPem(service.urls.operator);
    const devices = await enrollDevices(service.urls.device, caPem, tokens);
    const before = await readCounter(service, 'fleetguard_mqtt_messages_total', { kind: 'status', outcome: 'accepted' });
    ours = await drivePublishers(
      {
        url: service.urls.mqtt,
        publishers: devices.map((d) => ({ clientId: d.deviceId, topic: `fleet/v1/devices/${d.deviceId}/status`, tls: { key: d.keyPem, cert: d.certChainPem, ca: caPem } })),
        size,
        inflight,
      },
      seconds,
    );
    counted = (await readCounter(service, 'fleetguard_mqtt_messages_total', { kind: 'status', outcome: 'accepted' })) - before - WARMUP_PER_PUBLISHER * publishers;
  } finally {
    await service.stop();
  }

  const result = {
    bench: 'broker',
    publishers,
    inflightPerPublisher: inflight,
    payloadBytes: size,
    qos: 1,
    seconds,
    fleetguard: {
      broker: 'aedes embedded in the service',
      transport: `MQTT over mutual TLS (${ours!.protocol}, device certificates)`,
      topic: 'fleet/v1/devices/<id>/status (recorded in PostgreSQL before the PUBACK)',
      ...ours!,
      /** From the service's own counter, warm-up messages taken off. */
      serviceCountedAccepted: counted,
      ackedTotal: ours!.acked + ours!.ackedAfterWindow,
    },
    mosquitto: {
      broker: `Mosquitto at ${MOSQUITTO_URL}`,
      transport: 'MQTT over plain TCP, anonymous',
      topic: `${prefix}/<i>/status, one QoS 1 subscriber on ${prefix}/#`,
      ...mosquitto,
      subscriberReceived,
      subscriberMissing: mosquittoTotalAcked - subscriberReceived,
      /** CPU of the Mosquitto process (part of cpu.otherCores) over the phase, connection set-up included. */
      mosquittoProcessCores: mosquittoCores,
    },
    ratio: round(ours!.perSecond / mosquitto.perSecond, 3),
    fairness: 'unfair baseline in Mosquitto\'s favour: ours is over mutual TLS and writes each status to PostgreSQL before its PUBACK; Mosquitto is plain TCP, in memory (it does fan out to one subscriber, ours to none)',
    machine,
  };
  emit(
    result,
    `broker: ${publishers} publishers x ${inflight} in flight, ${size}-byte QoS 1, ${seconds} s: ours (aedes, mTLS, status recorded) ${ours!.perSecond} msg/s ` +
      `(p99 PUBACK ${ours!.pubackLatencyMs.p99} ms, ${counted} counted by the service) vs Mosquitto (plain TCP) ${mosquitto.perSecond} msg/s ` +
      `(p99 ${mosquitto.pubackLatencyMs.p99} ms, subscriber got ${subscriberReceived}/${mosquittoTotalAcked}) -> ratio ${result.ratio} ` +
      `(unfair in Mosquitto's favour: plain vs mutual TLS, no database write)`,
  );
}

/* -------------------------------------------------------------------- publishers (worker thread) */

async function workerMain(): Promise<void> {
  const input = workerData as PublishersInput;
  const port = parentPort!;
  const payload = payloadOf(input.size);
  const clients = await Promise.all(
    input.publishers.map((p) =>
      mqtt.connectAsync(input.url, {
        clientId: p.clientId,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        ...(p.tls ? { key: p.tls.key, cert: p.tls.cert, ca: p.tls.ca, rejectUnauthorized: true } : {}),
      }),
    ),
  );
  // A few messages each before the clock (connections warm, JIT).
  await Promise.all(clients.map((c, i) => Promise.all(Array.from({ length: WARMUP_PER_PUBLISHER }, () => c.publishAsync(input.publishers[i].topic, payload, { qos: 1 })))));
  port.postMessage({ t: 'ready' });
  const go = await new Promise<{ startAt: number; endAt: number }>((resolve) => port.once('message', resolve));
  while (nowMs() < go.startAt) await new Promise((r) => setImmediate(r));

  const ackedInWindow = new Array<number>(clients.length).fill(0);
  let ackedAfterWindow = 0;
  let errors = 0;
  let firstError: string | undefined;
  let lastAckAt = 0;
  const latencies: number[] = [];
  await Promise.all(
    clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          let outstanding = 0;
          const topic = input.publishers[i].topic;
          const pump = () => {
            while (outstanding < input.inflight && nowMs() < go.endAt) {
              outstanding++;
              const t0 = performance.now();
              client.publish(topic, payload, { qos: 1 }, (err) => {
                outstanding--;
                const at = nowMs();
                if (err) {
                  errors++;
                  firstError ??= err.message;
                } else {
                  latencies.push(performance.now() - t0);
                  lastAckAt = at;
                  if (at <= go.endAt) ackedInWindow[i]++;
                  else ackedAfterWindow++;
                }
                pump();
              });
            }
            if (outstanding === 0 && nowMs() >= go.endAt) resolve();
          };
          pump();
        }),
    ),
  );
  const protocol = (clients[0].stream as { getProtocol?: () => string | null }).getProtocol?.() ?? 'plain';
  await Promise.all(clients.map((c) => c.endAsync()));
  const lat = Float64Array.from(latencies);
  const done: PublishersDone = { t: 'done', ackedInWindow, ackedAfterWindow, errors, firstError, latencies: lat, lastAckAt, protocol };
  port.postMessage(done, [lat.buffer]);
}

if (isMainThread) main().catch(fail);
else workerMain().catch(workerFailed);
