/**
 * A simulated TF-M/MCUboot microcontroller (SPEC "Evidence formats devices really produce"): it
 * generates its Initial Attestation Key, enrolls with it (`iakPublicKey`, `psaImplementationId`),
 * and answers challenges with a PSA attestation token (RFC 9783) built from the firmware release
 * it runs: measurement value = the MCUboot image hash, signer id = SHA-256 of the signing key,
 * version = the image version. Behaviours tamper with exactly one thing each.
 */
import { createHash, KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import * as mqtt from 'mqtt';
import { buildPsaToken, generateIak, PSA_LIFECYCLE_NON_PSA_ROT_DEBUG, PSA_LIFECYCLE_SECURED } from '@fleetguard/device-kit';
import { psaInstanceIdOf } from '@fleetguard/attestation';
import { deviceTopic } from '@fleetguard/common';
import { DeviceApiClient, fetchCaChain } from './device-api.client';
import { createCsrPem, generateDeviceKey } from './device-key.generator';

export const PSA_BEHAVIOURS = ['good', 'wrong-digest', 'wrong-signer', 'debug-lifecycle', 'wrong-nonce', 'foreign-key', 'no-boot-seed'] as const;
export type PsaBehaviour = (typeof PSA_BEHAVIOURS)[number];

export interface PsaFirmware {
  /** Image version as MCUboot writes it (`1.2.3+0`); the token reports `1.2.3`. */
  version: string;
  /** `sha256:<hex>` or hex: the MCUboot image hash. */
  imageHash: string;
  /** hex: SHA-256 of the signing key (the release's signer key id). */
  signerId: string;
}

export interface PsaDeviceOptions {
  operatorUrl: string;
  deviceUrl: string;
  mqttUrl: string;
  token: string;
  firmware: PsaFirmware;
  /** 32 bytes hex; default: SHA-256 of "fleetguard-sim-tfm". */
  implementationId?: string;
  behaviour?: PsaBehaviour;
  timeoutMs?: number;
}

export class PsaDevice {
  readonly iak = generateIak();
  private readonly foreign = generateIak();
  private api?: DeviceApiClient;
  private client?: mqtt.MqttClient;
  private id?: string;
  private creds?: { caPem: string; certPem: string; keyPem: string };
  private readonly results: string[] = [];
  private waiters: Array<(ear: string) => void> = [];
  behaviour: PsaBehaviour;

  constructor(private readonly options: PsaDeviceOptions) {
    this.behaviour = options.behaviour ?? 'good';
  }

  get deviceId(): string {
    if (!this.id) throw new Error('the PSA device is not enrolled');
    return this.id;
  }

  get implementationId(): Buffer {
    return this.options.implementationId ? Buffer.from(this.options.implementationId, 'hex') : createHash('sha256').update('fleetguard-sim-tfm').digest();
  }

  get instanceId(): Buffer {
    return psaInstanceIdOf(this.iak.publicKey);
  }

  async enroll(): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    const caPem = await fetchCaChain(this.options.operatorUrl, timeoutMs);
    const key = await generateDeviceKey('P-256');
    const csr = await createCsrPem(key);
    const enrollClient = new DeviceApiClient({ baseUrl: this.options.deviceUrl, caPem, timeoutMs });
    try {
      const r = await enrollClient.enroll({
        token: this.options.token,
        csr,
        iakPublicKey: this.iak.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        psaImplementationId: this.implementationId.toString('hex'),
      });
      this.id = r.deviceId;
      const intermediates = (r.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).filter((p) => {
        const c = new X509Certificate(p);
        return c.subject !== c.issuer;
      });
      this.creds = { caPem, certPem: [r.certificate.trimEnd(), ...intermediates].join('\n') + '\n', keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
      this.api = new DeviceApiClient({ baseUrl: this.options.deviceUrl, caPem, clientCert: { certPem: this.creds.certPem, keyPem: this.creds.keyPem }, timeoutMs });
      return r.deviceId;
    } finally {
      enrollClient.close();
    }
  }

  /** The token `psa_initial_attest_get_token` would return for this challenge, per the behaviour. */
  token(nonce: string): Buffer {
    const b = this.behaviour;
    const fw = this.options.firmware;
    const imageHash = Buffer.from(fw.imageHash.replace(/^sha256:/, ''), 'hex');
    return buildPsaToken(
      {
        nonce: b === 'wrong-nonce' ? randomBytes(32) : Buffer.from(nonce, 'base64url'),
        instanceId: this.instanceId,
        implementationId: this.implementationId,
        lifecycle: b === 'debug-lifecycle' ? PSA_LIFECYCLE_NON_PSA_ROT_DEBUG : PSA_LIFECYCLE_SECURED,
        bootSeed: b === 'no-boot-seed' ? null : randomBytes(32),
        components: [
          {
            measurementType: 'SPE',
            measurementValue: b === 'wrong-digest' ? createHash('sha256').update(imageHash).digest() : imageHash,
            version: fw.version.replace(/\+0$/, ''),
            signerId: b === 'wrong-signer' ? createHash('sha256').update('another signer').digest() : Buffer.from(fw.signerId, 'hex'),
            measurementDesc: 'SHA256',
          },
        ],
      },
      (b === 'foreign-key' ? this.foreign : this.iak).privateKey as KeyObject,
    );
  }

  /** Challenge and evidence over the device HTTP API; answers the EAR. */
  async attestOverHttp(): Promise<string> {
    const api = this.requireApi();
    const c = await api.challenge();
    return api.psaEvidence(this.token(c.nonce).toString('base64url'));
  }

  /** Sends a token over a given nonce (tests: reuse of a nonce with a fresh token). */
  async sendOverHttp(nonce: string): Promise<string> {
    return this.requireApi().psaEvidence(this.token(nonce).toString('base64url'));
  }

  requireApi(): DeviceApiClient {
    if (!this.api) throw new Error('the PSA device is not enrolled');
    return this.api;
  }

  /** Connects over mTLS MQTT; every challenge is answered with `{psaToken}` on the evidence topic. */
  async connect(): Promise<void> {
    const id = this.deviceId;
    const creds = this.creds!;
    const client = mqtt.connect(this.options.mqttUrl, { clientId: id, protocolVersion: 4, clean: true, reconnectPeriod: 0, key: creds.keyPem, cert: creds.certPem, ca: creds.caPem, rejectUnauthorized: true });
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => {
      let body: { nonce?: string; ear?: string };
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (topic === deviceTopic(id, 'challenge') && typeof body.nonce === 'string') {
        void client.publishAsync(deviceTopic(id, 'evidence'), JSON.stringify({ psaToken: this.token(body.nonce).toString('base64url') }), { qos: 1 }).catch(() => undefined);
      } else if (topic === deviceTopic(id, 'result') && typeof body.ear === 'string') {
        this.results.push(body.ear);
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f(body.ear);
      }
    });
    await client.subscribeAsync({ [deviceTopic(id, 'challenge')]: { qos: 1 }, [deviceTopic(id, 'result')]: { qos: 1 } });
  }

  /** The next EAR on the result topic (or one already received after `since` results). */
  waitForResult(timeoutMs = 30_000, since = this.results.length): Promise<string> {
    if (this.results.length > since) return Promise.resolve(this.results[since]);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no result for ${this.id} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((ear) => {
        clearTimeout(t);
        resolve(ear);
      });
    });
  }

  get resultCount(): number {
    return this.results.length;
  }

  async close(): Promise<void> {
    this.api?.close();
    await this.client?.endAsync(true).catch(() => undefined);
  }
}
