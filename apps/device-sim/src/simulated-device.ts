/**
 * A simulated Fleetguard device (SPEC "Devices"): enrolls with a token (CSR in, certificate out),
 * connects to the MQTT broker over mutual TLS, answers attestation challenges with evidence per
 * its behaviour, records the EARs it receives and reports its hardening facts.
 *
 * Made to be driven from jest: no process-wide state, every address from the options, nothing
 * printed; close() ends the MQTT connection, the HTTPS agent and the TPM.
 */
import { EventEmitter } from 'node:events';
import { KeyObject, X509Certificate } from 'node:crypto';
import * as mqtt from 'mqtt';
import { deviceTopic, type DeviceTopicKind } from '@fleetguard/common';
import { buildEvidence, type EvidenceSigner, goodHardeningReport, weakHardeningReport } from '@fleetguard/device-kit';
import { decodeNonce, type BootEvent } from '@fleetguard/attestation';
import type { HardeningReport } from '@fleetguard/hardening';
import { DeviceApiClient, fetchCaChain } from './device-api.client';
import { createCsrPem, DeviceKeyPair, DeviceKeyType, generateDeviceKey } from './device-key.generator';
import { DeviceProfile } from './device-profile.schema';
import { createDeviceTpm, DeviceTpm, DeviceTpmOption } from './device-tpm';
import { EarSummary, summarizeEar } from './ear-result.decoder';
import { bootEventsFor, buildBehaviourEvidence, DeviceBehaviour, firmwareFor, isDeviceBehaviour } from './evidence.behaviour';

import { LinuxDeviceBoot, LinuxDeviceOption } from './linux-device';

export interface SimulatedDeviceOptions {
  /** Operator listener, for `GET /pki/ca` (skipped when `caPem` is given). e.g. http://127.0.0.1:3000 */
  operatorUrl: string;
  /** Device listener. e.g. https://127.0.0.1:8443 */
  deviceUrl: string;
  /** MQTT over TLS. e.g. mqtts://127.0.0.1:8883 */
  mqttUrl: string;
  /** Single-use enrollment token. */
  token: string;
  profile: DeviceProfile;
  /** An RFC 9711 UEID (hex, type byte first) to enroll with; the EATs then name the device by it (base64url). */
  ueid?: string;
  /** Default `good`. */
  behaviour?: DeviceBehaviour;
  /**
   * Hardening report sent (QoS 1) right after connecting. Default: goodHardeningReport(), or
   * weakHardeningReport() for `weak-config`. `false`: send none.
   */
  hardening?: HardeningReport | Record<string, unknown> | false;
  /** Default P-256. */
  keyType?: DeviceKeyType;
  /** A TPM: AK registered at enrollment, measured boot extended into PCRs, quotes in the evidence. */
  tpm?: DeviceTpmOption;
  /** A Linux device: boots a real TCG event log into its TPM, sends it with IMA entries (see linux-device.ts). */
  linux?: LinuxDeviceOption;
  /** The boot component a `tampered-component` device runs modified (default: the kernel, else the last event). */
  tamperComponent?: string;
  /** Trust anchors (PEM); default fetched from `<operatorUrl>/pki/ca` at enrollment. */
  caPem?: string;
  /** HTTP requests and MQTT acknowledgements. Default 15 s. */
  requestTimeoutMs?: number;
  /** MQTT connection (TLS + CONNACK). Default 15 s. */
  connectTimeoutMs?: number;
  /** Delay between MQTT reconnection attempts after a lost connection; 0 disables them. Default 1 s. */
  reconnectPeriodMs?: number;
  /** MQTT keepalive. Default 30 s. */
  keepaliveSeconds?: number;
  /** What signs the evidence (device-kit's buildEvidence `signer`): default `jose`; bench load generators use `node:crypto`. */
  evidenceSigner?: EvidenceSigner;
}

export type ConnectionState = 'connected' | 'reconnecting' | 'offline' | 'closed';

export interface ReceivedChallenge {
  nonce: string;
  expiresAt?: string;
}

/** Events (typed): listen with `device.on('result', (ear, summary) => ...)`. */
export interface SimulatedDeviceEvents {
  /** A challenge arrived over MQTT. */
  challenge: [challenge: ReceivedChallenge];
  /** Evidence was sent (MQTT: after the PUBACK; HTTP: before the POST). */
  evidence: [sent: { nonce: string; evidence: string; transport: 'mqtt' | 'http' }];
  /** An EAR arrived (MQTT result topic or HTTP evidence response). */
  result: [ear: string, summary: EarSummary];
  /** Something went wrong outside a call the user awaits (answering a challenge, a bad message). */
  'device-error': [error: Error];
  connection: [state: ConnectionState];
}

interface ResultWaiter {
  index: number;
  resolve: (ear: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface DeviceMetrics {
  enrollMs?: number;
  connectMs?: number;
  challengesReceived: number;
  evidenceSent: number;
  /** Challenge received → result received, per answered challenge (last 1000). */
  resultLatencyMs: number[];
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_TRACKED_NONCES = 256;
const MAX_LATENCIES = 1000;

export class SimulatedDevice extends EventEmitter<SimulatedDeviceEvents> {
  readonly behaviour: DeviceBehaviour;
  /** EARs received, oldest first. */
  readonly results: string[] = [];
  /** Errors that happened outside awaited calls (also emitted as `device-error`). */
  readonly errors: Error[] = [];
  readonly metrics: DeviceMetrics = { challengesReceived: 0, evidenceSent: 0, resultLatencyMs: [] };

  /** What this device booted: reported in evidence and extended into its TPM. */
  readonly bootEvents: BootEvent[];

  private key?: DeviceKeyPair;
  private impostorKey?: KeyObject;
  private tpm?: DeviceTpm;
  /** The Linux boot (TCG log + TPM) of a `linux` device. */
  linux?: LinuxDeviceBoot;
  private enrollment?: { deviceId: string; certificatePem: string; chainPem: string; caPem: string; clientCertPem: string; keyPem: string };
  private api?: DeviceApiClient;
  private client?: mqtt.MqttClient;
  private closed = false;
  private readonly waiters = new Set<ResultWaiter>();
  private readonly answered = new Set<string>();
  private readonly challengedAt = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly timeoutMs: number;

  constructor(readonly options: SimulatedDeviceOptions) {
    super();
    const behaviour = options.behaviour ?? 'good';
    if (!isDeviceBehaviour(behaviour)) throw new Error(`unknown behaviour '${String(behaviour)}'`);
    this.behaviour = behaviour;
    this.bootEvents = bootEventsFor(behaviour, options.profile, options.tamperComponent);
    firmwareFor(behaviour, options.profile); // fails now, not at the first challenge, for an impossible rollback
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /* ------------------------------------------------------------------ identity */

  get isEnrolled(): boolean {
    return !!this.enrollment;
  }

  /** The id the service assigned (certificate CN). Throws before enroll(). */
  get deviceId(): string {
    return this.enrolled().deviceId;
  }

  /** The device certificate (PEM). Throws before enroll(). */
  get certificatePem(): string {
    return this.enrolled().certificatePem;
  }

  /** The chain returned with the certificate (PEM). Throws before enroll(). */
  get chainPem(): string {
    return this.enrolled().chainPem;
  }

  /** The enrolled private key. Throws before enroll(). */
  get privateKey(): KeyObject {
    this.enrolled();
    return this.key!.privateKey;
  }

  /** The AK public key sent at enrollment (PEM), when the device has a TPM. */
  get akPublicKeyPem(): string | undefined {
    return this.linux?.akPublicKeyPem ?? this.tpm?.akPublicKeyPem;
  }

  get isConnected(): boolean {
    return !!this.client?.connected;
  }

  /* ------------------------------------------------------------------ enrollment */

  /**
   * Generates the key (and the TPM's AK, measuring the boot into it), sends the CSR with the token
   * to `POST /enroll` over HTTPS trusting the chain from `/pki/ca`, and keeps the certificate.
   */
  async enroll(): Promise<{ deviceId: string; certificate: string; chain: string }> {
    this.assertOpen();
    if (this.enrollment) throw new Error(`device ${this.enrollment.deviceId} is already enrolled`);
    const started = Date.now();
    const caPem = this.options.caPem ?? (await fetchCaChain(this.options.operatorUrl, this.timeoutMs));
    const key = await generateDeviceKey(this.options.keyType ?? 'P-256');
    let tpm: DeviceTpm | undefined;
    try {
      if (this.options.tpm) {
        tpm = await createDeviceTpm(this.options.tpm);
        await tpm.measureBoot(this.bootEvents);
      }
      if (this.options.linux) this.linux = await LinuxDeviceBoot.create(this.options.linux);
      const akPublicKey = this.linux?.akPublicKeyPem ?? tpm?.akPublicKeyPem;
      const csr = await createCsrPem(key);
      const enrollClient = new DeviceApiClient({ baseUrl: this.options.deviceUrl, caPem, timeoutMs: this.timeoutMs });
      let response;
      try {
        response = await enrollClient.enroll({ token: this.options.token, csr, ...(akPublicKey ? { akPublicKey } : {}), ...(this.options.ueid ? { ueid: this.options.ueid } : {}) });
      } finally {
        enrollClient.close();
      }
      checkIssuedCertificate(response.certificate, response.deviceId, key.publicKey);
      if (this.closed) throw new Error('device closed during enrollment');
      const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const clientCertPem = response.certificate.trimEnd() + '\n' + intermediatesOf(response.chain);
      this.key = key;
      this.tpm = tpm;
      this.enrollment = { deviceId: response.deviceId, certificatePem: response.certificate, chainPem: response.chain, caPem, clientCertPem, keyPem };
      this.api = new DeviceApiClient({ baseUrl: this.options.deviceUrl, caPem, clientCert: { certPem: clientCertPem, keyPem }, timeoutMs: this.timeoutMs });
      this.metrics.enrollMs = Date.now() - started;
      return { deviceId: response.deviceId, certificate: response.certificate, chain: response.chain };
    } catch (e) {
      await tpm?.close();
      await this.linux?.close();
      this.linux = undefined;
      throw e;
    }
  }

  /* ------------------------------------------------------------------ MQTT */

  /**
   * Connects over mutual TLS (client id = device id), subscribes to its challenge and result
   * topics (QoS 1), publishes `{online: true}` on its status topic (the will says
   * `{online: false}`), then sends its hardening report. Challenges are answered from then on.
   */
  async connect(): Promise<void> {
    this.assertOpen();
    const e = this.enrolled();
    if (this.client) throw new Error(`device ${e.deviceId} is already connected`);
    const started = Date.now();
    const id = e.deviceId;
    const client = mqtt.connect(this.options.mqttUrl, {
      clientId: id,
      protocolVersion: 4,
      clean: true,
      keepalive: this.options.keepaliveSeconds ?? 30,
      connectTimeout: this.options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      reconnectPeriod: this.options.reconnectPeriodMs ?? 1000,
      key: e.keyPem,
      cert: e.clientCertPem,
      ca: e.caPem,
      rejectUnauthorized: true,
      will: { topic: deviceTopic(id, 'status'), payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: false },
    });
    this.client = client;
    let connected = false;
    // Always listened to: an 'error' event without a listener would throw.
    client.on('error', (err) => {
      if (connected) this.fail(new Error(`MQTT: ${err.message}`));
    });
    try {
      await firstConnection(client, this.options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS);
      connected = true;
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
      client.on('connect', () => {
        this.emit('connection', 'connected');
        this.track(this.publish('status', { online: true }).catch((err) => this.fail(err)));
      });
      client.on('reconnect', () => this.emit('connection', 'reconnecting'));
      client.on('offline', () => this.emit('connection', 'offline'));

      const grants = await withTimeout(
        client.subscribeAsync({ [deviceTopic(id, 'challenge')]: { qos: 1 }, [deviceTopic(id, 'result')]: { qos: 1 } }),
        this.timeoutMs,
        `device ${id}: no SUBACK`,
      );
      const refused = grants.filter((g) => g.qos === 128);
      if (refused.length) throw new Error(`device ${id}: the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}`);
      await this.publish('status', { online: true });
      this.emit('connection', 'connected');
      const report = this.hardeningReport();
      if (report) await this.reportHardening(report);
      this.metrics.connectMs = Date.now() - started;
    } catch (err) {
      this.client = undefined;
      client.removeAllListeners('message');
      await endClient(client, true);
      throw err;
    }
  }

  /** Publishes a hardening report on the hardening topic (QoS 1) and waits for the PUBACK. */
  async reportHardening(report: unknown): Promise<void> {
    await this.publish('hardening', report);
  }

  /* ------------------------------------------------------------------ HTTP */

  /**
   * One attestation over the device HTTPS API with the client certificate: `POST
   * /attestation/challenge`, then `POST /attestation/evidence` with evidence per the behaviour
   * (`silent` answers like `good` here: it only ignores MQTT challenges). Records and returns the EAR.
   */
  async attestOverHttp(): Promise<string> {
    this.assertOpen();
    const api = this.deviceApi();
    const { nonce } = await api.challenge();
    const started = Date.now();
    const { evidence, nonce: sentNonce } = await this.buildEvidence(nonce);
    this.emit('evidence', { nonce: sentNonce, evidence, transport: 'http' });
    this.metrics.evidenceSent++;
    const ear = await api.evidence(evidence);
    this.metrics.resultLatencyMs.push(Date.now() - started);
    this.trimLatencies();
    this.recordResult(ear);
    return ear;
  }

  /** `POST /devices/self/hardening` with the client certificate; returns the service's answer. */
  async reportHardeningOverHttp(report: unknown): Promise<unknown> {
    this.assertOpen();
    return this.deviceApi().hardening(report);
  }

  /* ------------------------------------------------------------------ results */

  lastResult(): string | undefined {
    return this.results[this.results.length - 1];
  }

  lastResultSummary(): EarSummary | undefined {
    const ear = this.lastResult();
    return ear === undefined ? undefined : summarizeEar(ear);
  }

  /**
   * Resolves the next EAR received after this call, or rejects after `timeoutMs`. With `since`
   * (a count of results, e.g. `results.length` read before connect()), resolves `results[since]`,
   * even if it has already arrived: no race with the challenge the service sends on connect.
   */
  waitForResult(timeoutMs = 30_000, options: { since?: number } = {}): Promise<string> {
    const index = options.since ?? this.results.length;
    if (index < this.results.length) return Promise.resolve(this.results[index]);
    if (this.closed) return Promise.reject(new Error('device is closed'));
    return new Promise<string>((resolve, reject) => {
      const waiter: ResultWaiter = {
        index,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`device ${this.enrollment?.deviceId ?? '(not enrolled)'} (${this.behaviour}): no attestation result within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /* ------------------------------------------------------------------ shutdown */

  /**
   * Says `{online: false}` if connected, disconnects, and frees the HTTPS agent and the TPM.
   * Pending waitForResult calls reject. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`device ${this.enrollment?.deviceId ?? '(not enrolled)'} was closed before a result arrived`));
    }
    this.waiters.clear();
    const client = this.client;
    this.client = undefined;
    if (client) {
      if (client.connected) {
        await withTimeout(publishJson(client, deviceTopic(this.enrollment!.deviceId, 'status'), { online: false }), 2000, 'status').catch(() => undefined);
      }
      await Promise.allSettled([...this.inFlight]);
      await endClient(client, false);
      client.removeAllListeners();
    }
    await Promise.allSettled([...this.inFlight]);
    this.api?.close();
    await this.tpm?.close();
    await this.linux?.close();
    this.emit('connection', 'closed');
  }

  /* ------------------------------------------------------------------ internals */

  /** The evidence this device sends for `nonce` (for tests: what would go on the wire). */
  async buildEvidence(nonce: string): Promise<{ evidence: string; nonce: string }> {
    this.enrolled();
    if (this.behaviour === 'wrong-key' && !this.impostorKey) {
      this.impostorKey = (await generateDeviceKey(this.key!.type)).privateKey;
    }
    if (this.linux) {
      const { tpm: quote, ...extraClaims } = await this.linux.evidenceClaims(nonce);
      const fw = this.options.profile.fw;
      return { evidence: await buildEvidence({ deviceKey: this.key!.privateKey, deviceId: this.deviceId, nonce, fw, events: [], tpm: quote, extraClaims, signer: this.options.evidenceSigner }), nonce };
    }
    const tpm = this.tpm;
    return buildBehaviourEvidence({
      behaviour: this.behaviour,
      deviceId: this.deviceId,
      nonce,
      profile: this.options.profile,
      deviceKey: this.key!.privateKey,
      impostorKey: this.impostorKey,
      events: this.bootEvents,
      quote: tpm ? (pcrs, data) => tpm.quote(pcrs, data) : undefined,
      signer: this.options.evidenceSigner,
      ...(this.options.ueid ? { ueid: Buffer.from(this.options.ueid.replace(/[:-]/g, ''), 'hex') } : {}),
    });
  }

  private hardeningReport(): unknown {
    const h = this.options.hardening;
    if (h === false) return undefined;
    if (h !== undefined) return h;
    const firmwareVersion = firmwareFor(this.behaviour, this.options.profile).version;
    return this.behaviour === 'weak-config' ? weakHardeningReport({ firmwareVersion }) : goodHardeningReport({ firmwareVersion });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (this.closed || !this.enrollment) return;
    const id = this.enrollment.deviceId;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.fail(new Error(`device ${id}: message on ${topic} is not JSON`));
      return;
    }
    if (topic === deviceTopic(id, 'challenge')) this.onChallenge(body);
    else if (topic === deviceTopic(id, 'result')) this.onResult(body);
    else this.fail(new Error(`device ${id}: unexpected message on ${topic}`));
  }

  private onChallenge(body: unknown): void {
    const nonce = (body as { nonce?: unknown } | null)?.nonce;
    const expiresAt = (body as { expiresAt?: unknown } | null)?.expiresAt;
    if (typeof nonce !== 'string') {
      this.fail(new Error(`device ${this.deviceId}: challenge without a nonce`));
      return;
    }
    this.metrics.challengesReceived++;
    this.emit('challenge', { nonce, ...(typeof expiresAt === 'string' ? { expiresAt } : {}) });
    if (this.behaviour === 'silent') return;
    if (this.answered.has(nonce)) return; // a QoS 1 redelivery: the first answer stands
    this.remember(this.answered, nonce);
    this.track(this.answerChallenge(nonce));
  }

  private async answerChallenge(nonce: string): Promise<void> {
    try {
      decodeNonce(nonce);
      const received = Date.now();
      const { evidence, nonce: sentNonce } = await this.buildEvidence(nonce);
      this.challengedAt.set(sentNonce, received);
      if (this.challengedAt.size > MAX_TRACKED_NONCES) this.challengedAt.delete(this.challengedAt.keys().next().value!);
      await this.publish('evidence', { evidence });
      this.metrics.evidenceSent++;
      this.emit('evidence', { nonce: sentNonce, evidence, transport: 'mqtt' });
    } catch (e) {
      this.fail(new Error(`device ${this.enrollment?.deviceId}: could not answer challenge ${nonce.slice(0, 12)}..: ${(e as Error).message}`));
    }
  }

  private onResult(body: unknown): void {
    const ear = (body as { ear?: unknown } | null)?.ear;
    if (typeof ear !== 'string') {
      this.fail(new Error(`device ${this.deviceId}: result without an ear`));
      return;
    }
    const summary = this.recordResult(ear);
    const at = summary.nonce ? this.challengedAt.get(summary.nonce) : undefined;
    if (at !== undefined) {
      this.challengedAt.delete(summary.nonce!);
      this.metrics.resultLatencyMs.push(Date.now() - at);
      this.trimLatencies();
    }
  }

  private recordResult(ear: string): EarSummary {
    this.results.push(ear);
    const summary = summarizeEar(ear);
    for (const w of [...this.waiters]) {
      if (w.index < this.results.length) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(this.results[w.index]);
      }
    }
    this.emit('result', ear, summary);
    return summary;
  }

  private async publish(kind: DeviceTopicKind, body: unknown): Promise<void> {
    const client = this.client;
    if (!client) throw new Error(`device ${this.enrollment?.deviceId ?? '(not enrolled)'} is not connected`);
    await withTimeout(publishJson(client, deviceTopic(this.deviceId, kind), body), this.timeoutMs, `device ${this.deviceId}: no PUBACK for ${kind} within ${this.timeoutMs} ms`);
  }

  private deviceApi(): DeviceApiClient {
    this.enrolled();
    return this.api!;
  }

  private enrolled() {
    if (!this.enrollment) throw new Error('the device is not enrolled yet: call enroll() first');
    return this.enrollment;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the device is closed');
  }

  private fail(error: Error): void {
    this.errors.push(error);
    if (this.errors.length > 100) this.errors.shift();
    this.emit('device-error', error);
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private remember(set: Set<string>, value: string): void {
    set.add(value);
    if (set.size > MAX_TRACKED_NONCES) set.delete(set.values().next().value!);
  }

  private trimLatencies(): void {
    const l = this.metrics.resultLatencyMs;
    if (l.length > MAX_LATENCIES) l.splice(0, l.length - MAX_LATENCIES);
  }
}

/* -------------------------------------------------------------------- helpers */

/** The service must issue for our key, to the id it names (SPEC: CN = deviceId). */
function checkIssuedCertificate(certificatePem: string, deviceId: string, publicKey: KeyObject): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch {
    throw new Error('enrollment returned a certificate that does not parse');
  }
  if (!cert.publicKey.equals(publicKey)) throw new Error('enrollment returned a certificate for another key');
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (cn !== deviceId) throw new Error(`enrollment returned deviceId '${deviceId}' but the certificate's CN is '${cn ?? ''}'`);
}

/** The CA certificates of a PEM chain that are not self-signed (what a client sends after its leaf). */
function intermediatesOf(chainPem: string): string {
  const pems = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return pems
    .filter((pem) => {
      try {
        const c = new X509Certificate(pem);
        return c.subject !== c.issuer;
      } catch {
        return false;
      }
    })
    .map((pem) => pem + '\n')
    .join('');
}

function publishJson(client: mqtt.MqttClient, topic: string, body: unknown): Promise<unknown> {
  return client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waits for the first CONNACK; fails with the TLS or broker error (not just "connection closed"). */
function firstConnection(client: mqtt.MqttClient, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const fail = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (e: Error) => {
      lastError = e;
      fail(new Error(`MQTT connection failed: ${e.message}`));
    };
    const onClose = () => fail(new Error(`MQTT connection closed before CONNACK${lastError ? `: ${lastError.message}` : ' (refused by the broker or TLS)'}`));
    const timer = setTimeout(() => fail(new Error(`MQTT: no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

async function endClient(client: mqtt.MqttClient, force: boolean): Promise<void> {
  // end() waits for in-flight messages; a lost connection would make it wait for good.
  await withTimeout(client.endAsync(force), 3000, 'end').catch(() => client.endAsync(true).catch(() => undefined));
}
