/**
 * The embedded MQTT broker (aedes inside the service) against a Mosquitto the bench starts and
 * configures itself, like for like: both over mutual TLS with the same device keys and
 * certificates, enrolled through `POST /enroll`, the same load from the same client (the `mqtt` npm
 * package): `--publishers` devices each keeping `--inflight` QoS 1 PUBLISHes of `--size` bytes
 * outstanding on its own `fleet/v1/devices/<id>/status` topic (the next one goes out when a PUBACK
 * comes back). Counted: PUBACKs inside the window (messages/s, and per publisher), publish ->
 * PUBACK latency, each broker's CPU.
 *
 *   npm run bench:broker [-- --publishers 8 --seconds 5 --rounds 2 --size 256 --inflight 16 --no-plain]
 *
 * Mosquitto (bench/support/mosquitto.ts): Debian's /usr/sbin/mosquitto in the foreground with a
 * config in a temp dir: a TLS listener on a free port, `cafile` the service's device CA,
 * a server certificate for 127.0.0.1 from a throwaway CA, `require_certificate true`,
 * `use_identity_as_username true`; killed at the end. One more enrolled device subscribes to
 * `fleet/v1/devices/+/status` (QoS 1, in the main thread) and counts what Mosquitto relays.
 * Ours: the service accepts each status, records it (`UPDATE devices SET last_seen_at`) before
 * the PUBACK and counts it (`fleetguard_mqtt_messages_total{kind="status",outcome="accepted"}`);
 * nothing is forwarded (devices may only subscribe to their own challenge/result topics).
 * What still differs, and the output says so: ours writes to PostgreSQL before every PUBACK;
 * Mosquitto fans each message out to a subscriber, in memory.
 * Rounds alternate the brokers (ours, Mosquitto, Mosquitto, ours, ...) so a change in the machine's
 * load during the run weighs on both alike; rates are totals over all rounds.
 * For reference only (off with `--no-plain`): Mosquitto on a plain anonymous listener of the same
 * process, the old baseline, not like for like.
 * The publishers run in a worker thread of this process (own event loop); the service runs in the
 * main thread.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as mqtt from 'mqtt';
import { createProduct, createTenant, mintTokens, readCounter, startBenchService } from './support/bench-service';
import { EnrolledDevice, enrollDevices, fetchCaPem } from './support/enrollment-client';
import { cpuMeter, emit, fail, flagArg, latencySummary, machineInfo, nowMs, numberArg, round, sleep } from './support/measure';
import { startMosquitto } from './support/mosquitto';
import { startWorker, workerFailed } from './support/worker-channel';

/** QoS 1 messages each publisher sends before the clock (warm connections and JIT); not counted. */
const WARMUP_PER_PUBLISHER = 20;
/** The goal for the relay path: ours at least this fraction of Mosquitto's rate, like for like. */
const GOAL_RATIO = 0.6;

interface PublisherSpec {
  clientId: string;
  topic: string;
  /** Client key and certificate chain, and the CA the client trusts for the server. */
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
  /** TLS version and cipher negotiated by the first publisher, or 'plain'. */
  protocol: string;
}

function payloadOf(size: number): Buffer {
  // JSON, as a device's status would be, padded to the size.
  const head = '{"online":true,"pad":"';
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
}

/** Runs the publishers in a worker for `seconds`; returns what they counted and the broker process's CPU. */
async function drivePublishers(input: PublishersInput, seconds: number, brokerCpuSeconds?: () => number | null) {
  const worker = startWorker(__filename, input);
  try {
    await worker.next('ready', 120_000);
    const cpu = cpuMeter();
    const startAt = nowMs() + 10;
    const endAt = startAt + seconds * 1000;
    worker.send({ t: 'go', startAt, endAt });
    const b0 = brokerCpuSeconds?.() ?? null;
    const t0 = nowMs();
    const done = await worker.next<PublishersDone>('done');
    const b1 = brokerCpuSeconds?.() ?? null;
    const cpuReport = cpu();
    const acked = done.ackedInWindow.reduce((a, b) => a + b, 0);
    return {
      seconds,
      acked,
      perSecond: round(acked / seconds, 0)!,
      perPublisherPerSecond: done.ackedInWindow.map((n) => round(n / seconds, 0)),
      ackedAfterWindow: done.ackedAfterWindow,
      errors: done.errors,
      firstError: done.firstError,
      latencies: done.latencies,
      protocol: done.protocol,
      /** CPU of the broker's own process (Mosquitto) over the window and its drain, in cores. */
      brokerProcessCores: b0 !== null && b1 !== null ? round((b1 - b0) / ((nowMs() - t0) / 1000), 2) : null,
      cpu: cpuReport,
    };
  } finally {
    await worker.close();
  }
}

type Round = Awaited<ReturnType<typeof drivePublishers>>;

/** The rounds of one broker added up: rate over all windows, latency over all PUBACKs. */
function combine(rounds: Round[]) {
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  const acked = rounds.reduce((a, r) => a + r.acked, 0);
  const all = new Float64Array(rounds.reduce((a, r) => a + r.latencies.length, 0));
  let at = 0;
  for (const r of rounds) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  return {
    seconds,
    acked,
    perSecond: round(acked / seconds, 0)!,
    perRoundPerSecond: rounds.map((r) => r.perSecond),
    ackedAfterWindow: rounds.reduce((a, r) => a + r.ackedAfterWindow, 0),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError,
    pubackLatencyMs: latencySummary(all),
    protocol: rounds[0].protocol,
    perRound: rounds.map(({ latencies, ...r }) => ({ ...r, pubackLatencyMs: latencySummary(latencies) })),
  };
}

/** Waits until nothing more arrives at `count()` for 500 ms (at most 15 s). */
async function settle(count: () => number): Promise<void> {
  for (let last = -1, until = nowMs() + 15_000; count() !== last && nowMs() < until; ) {
    last = count();
    await sleep(500);
  }
}

async function main(): Promise<void> {
  const publishers = numberArg('publishers', 8, { integer: true, min: 1 });
  const seconds = numberArg('seconds', 5);
  const rounds = numberArg('rounds', 2, { integer: true, min: 1 });
  const size = numberArg('size', 256, { integer: true, min: 32 });
  const inflight = numberArg('inflight', 16, { integer: true, min: 1 });
  const withPlain = !flagArg('no-plain');
  const machine = machineInfo();
  const run = randomBytes(4).toString('hex');

  const service = await startBenchService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '86400' });
  let mosquitto: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  let subscriber: mqtt.MqttClient | undefined;
  try {
    /* ------------------------------------------------------------ the same devices for both */
    const manufacturer = await createTenant(service, 'manufacturer');
    const product = await createProduct(service, manufacturer.key);
    const tokens = await mintTokens(service, manufacturer.key, product.id, publishers + 1);
    const caPem = await fetchCaPem(service.urls.operator);
    const enrolled = await enrollDevices(service.urls.device, caPem, tokens);
    const devices = enrolled.slice(0, publishers);
    const listener: EnrolledDevice = enrolled[publishers];
    const specs = (ca: string | undefined): PublisherSpec[] =>
      devices.map((d) => ({ clientId: d.deviceId, topic: `fleet/v1/devices/${d.deviceId}/status`, ...(ca ? { tls: { key: d.keyPem, cert: d.certChainPem, ca } } : {}) }));

    /* ------------------------------------------------------------ Mosquitto, mutual TLS, device CA */
    mosquitto = await startMosquitto({ clientCaPem: caPem, plain: withPlain, extraConfig: ['max_queued_messages 0'] });
    let received = 0;
    subscriber = await mqtt.connectAsync(mosquitto.tlsUrl, {
      clientId: `fg-bench-sub-${run}`,
      clean: true,
      reconnectPeriod: 0,
      protocolVersion: 4,
      key: listener.keyPem,
      cert: listener.certChainPem,
      ca: mosquitto.serverCaPem,
      rejectUnauthorized: true,
    });
    subscriber.on('message', () => received++);
    await subscriber.subscribeAsync('fleet/v1/devices/+/status', { qos: 1 });

    const oursRounds: Round[] = [];
    const theirsRounds: Round[] = [];
    let counted = 0;
    let mosquittoAckedTotal = 0;
    const ours = async () => {
      const before = await readCounter(service, 'fleetguard_mqtt_messages_total', { kind: 'status', outcome: 'accepted' });
      oursRounds.push(await drivePublishers({ url: service.urls.mqtt, publishers: specs(caPem), size, inflight }, seconds));
      counted += (await readCounter(service, 'fleetguard_mqtt_messages_total', { kind: 'status', outcome: 'accepted' })) - before - WARMUP_PER_PUBLISHER * publishers;
    };
    const theirs = async () => {
      const r = await drivePublishers({ url: mosquitto!.tlsUrl, publishers: specs(mosquitto!.serverCaPem), size, inflight }, seconds, mosquitto!.cpuSeconds);
      theirsRounds.push(r);
      mosquittoAckedTotal += r.acked + r.ackedAfterWindow + WARMUP_PER_PUBLISHER * publishers;
      await settle(() => received);
    };
    // ours, Mosquitto, Mosquitto, ours, ours, ...: a drift in the machine's load weighs on both.
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        await ours();
        await theirs();
      } else {
        await theirs();
        await ours();
      }
    }
    const subscriberReceived = received;

    /* ------------------------------------------------------------ for reference: plain TCP */
    let plain: (ReturnType<typeof combine> & { subscriberMissing: number }) | undefined;
    if (withPlain && mosquitto.plainUrl) {
      const before = received;
      const r = await drivePublishers({ url: mosquitto.plainUrl, publishers: specs(undefined), size, inflight }, seconds * rounds, mosquitto.cpuSeconds);
      await settle(() => received);
      plain = { ...combine([r]), subscriberMissing: r.acked + r.ackedAfterWindow + WARMUP_PER_PUBLISHER * publishers - (received - before) };
    }
    await subscriber.endAsync();
    subscriber = undefined;

    const oursAll = combine(oursRounds);
    const theirsAll = combine(theirsRounds);
    const ratio = round(oursAll.perSecond / theirsAll.perSecond, 3)!;
    const differences = [
      'ours records each status in PostgreSQL (UPDATE devices SET last_seen_at) before its PUBACK; Mosquitto keeps nothing (persistence false)',
      'Mosquitto fans each message out to one QoS 1 subscriber (another enrolled device, over the same mutual TLS); ours forwards nothing (devices may not subscribe to status topics)',
      'ours also checks the client id against the certificate and the topic against the device (its ACL); Mosquitto only takes the CN as the user name, no ACL',
      `TLS: ours ${oursAll.protocol}, Mosquitto ${theirsAll.protocol}`,
    ];
    const result = {
      bench: 'broker',
      publishers,
      inflightPerPublisher: inflight,
      payloadBytes: size,
      qos: 1,
      secondsPerRound: seconds,
      rounds,
      order: 'ours, Mosquitto, Mosquitto, ours, ... (alternating)',
      fleetguard: {
        broker: 'aedes embedded in the service',
        transport: `MQTT over mutual TLS (${oursAll.protocol}, device certificates from POST /enroll)`,
        topic: 'fleet/v1/devices/<id>/status (recorded in PostgreSQL before the PUBACK)',
        ...oursAll,
        /** From the service's own counter, warm-up messages taken off. */
        serviceCountedAccepted: counted,
        ackedTotal: oursAll.acked + oursAll.ackedAfterWindow,
      },
      mosquitto: {
        broker: `Mosquitto (${mosquitto.pid}, started by the bench) at ${mosquitto.tlsUrl}`,
        transport: `MQTT over mutual TLS (${theirsAll.protocol}, the same device certificates; cafile = the service's device CA, require_certificate, use_identity_as_username)`,
        topic: 'fleet/v1/devices/<id>/status, one QoS 1 subscriber (an enrolled device) on fleet/v1/devices/+/status',
        ...theirsAll,
        subscriberReceived,
        subscriberMissing: mosquittoAckedTotal - subscriberReceived,
        config: mosquitto.config,
      },
      ratio,
      goal: { ratio: GOAL_RATIO, measured: ratio, met: ratio >= GOAL_RATIO },
      differences,
      ...(plain
        ? {
            referenceOnly: {
              what: 'Mosquitto (same process) on a plain anonymous TCP listener: the old, not like-for-like baseline',
              ...plain,
              ratioOursToPlain: round(oursAll.perSecond / plain.perSecond, 3),
            },
          }
        : {}),
      machine,
    };
    emit(
      result,
      `broker: ${publishers} publishers x ${inflight} in flight, ${size}-byte QoS 1, ${rounds} x ${seconds} s each, mutual TLS with the same device certificates on both: ` +
        `ours (aedes, status recorded in PostgreSQL) ${oursAll.perSecond} msg/s (p99 PUBACK ${oursAll.pubackLatencyMs.p99} ms, ${counted} counted by the service) vs ` +
        `Mosquitto ${theirsAll.perSecond} msg/s (p99 ${theirsAll.pubackLatencyMs.p99} ms, subscriber got ${subscriberReceived}/${mosquittoAckedTotal}, Mosquitto process ${theirsRounds.map((r) => r.brokerProcessCores).join('/')} cores) ` +
        `-> ratio ${ratio} (goal >= ${GOAL_RATIO}: ${result.goal.met ? 'MET' : 'NOT met'}); still differs: ours writes to PostgreSQL before each PUBACK, Mosquitto fans out to a subscriber` +
        (plain ? `; for reference only, Mosquitto plain TCP ${plain.perSecond} msg/s (ratio ${result.referenceOnly!.ratioOursToPlain})` : '') +
        `; load ${machine.loadAvg1m}`,
    );
  } finally {
    await subscriber?.endAsync(true).catch(() => undefined);
    await mosquitto?.stop();
    await service.stop();
  }
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
  const tls = clients[0].stream as { getProtocol?: () => string | null; getCipher?: () => { name: string } };
  const protocol = tls.getProtocol ? `${tls.getProtocol()} ${tls.getCipher?.()?.name ?? ''}`.trim() : 'plain';
  await Promise.all(clients.map((c) => c.endAsync()));
  const lat = Float64Array.from(latencies);
  const done: PublishersDone = { t: 'done', ackedInWindow, ackedAfterWindow, errors, firstError, latencies: lat, lastAckAt, protocol };
  port.postMessage(done, [lat.buffer]);
}

if (isMainThread) main().catch(fail);
else workerMain().catch(workerFailed);
