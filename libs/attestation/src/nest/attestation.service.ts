import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { KeyObject, createHash, createPublicKey, randomUUID } from 'node:crypto';
import { returningRows } from '@fleetguard/persistence';
import { DataSource } from 'typeorm';
import { AppConfig, DomainError, conflict, isDomainError } from '@fleetguard/common';
import { APP_CONFIG, counter, histogram } from '@fleetguard/platform';
import { BrokerService, InboundOutcome } from '@fleetguard/broker';
import { CertificateStatusService } from '@fleetguard/pki';
import { FirmwareService } from '@fleetguard/firmware';
import { EventBusService } from '@fleetguard/events';
import { AppraisalPorts, AppraisalResult, appraiseEvidence } from '../core/appraisal.pipeline';
import { assertCompactJws } from '../core/eat-evidence.parser';
import { signEar } from '../core/ear.builder';
import { MeasuredBootStore } from './measured-boot.store';
import { NonceStore } from './nonce.store';
import { VerifierKeyService } from './verifier-key.service';
import { PsaService } from './psa.service';
import { PsaAppraisalResult } from '../core/psa-token.appraisal';
import { assertPsaTokenText, psaTokenOf } from '../core/psa-token.parser';

const appraisals = counter('fleetguard_attestations_total', 'Evidence appraised, by resulting status', ['status', 'channel']);
const refused = counter('fleetguard_evidence_rejected_total', 'Evidence refused before appraisal, by code', ['code', 'channel']);
const latency = histogram('fleetguard_appraisal_seconds', 'Time from evidence received to stored result', ['channel'], [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

const VERIFIER_ID = { build: 'fleetguard-0.1.0', developer: 'https://fleetguard.dev' };

interface DeviceRow {
  id: string;
  product_id: string;
  manufacturer_org_id: string;
  operator_org_id: string | null;
  status: string;
  public_key_spki: Buffer;
  ak_public_key: string | null;
  cert_serial: string | null;
  max_security_counter_seen: number | null;
}

export interface StoredResult {
  id: string;
  status: string;
  ear: string;
  reasons: string[];
}

/**
 * Remote attestation flow (RFC 9334 roles: device = attester, this service = verifier):
 * challenges over MQTT and HTTP, evidence recorded durably before it is acknowledged, the
 * appraisal pipeline of the core, EAR results signed, stored with their evidence and sent back,
 * failure events, and continuous re-challenge.
 */
@Injectable()
export class AttestationService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Attestation');
  private readonly lastChallenge = new Map<string, number>();
  /** Start of the window of the next staleness sweep (devices stale before this start are not re-notified after a restart). */
  private lastSweep = Date.now();
  private timer?: NodeJS.Timeout;
  private readonly queue: Array<{ inboxId: string; deviceId: string; evidence: string; receivedAt: number }> = [];
  private active = 0;
  private readonly maxActive = 16;
  private closing = false;
  /** Parsed device keys by device and certificate serial (a renewal or revocation changes the serial). */
  private readonly keyCache = new Map<string, KeyObject>();
  /** Releases and product minimums change rarely; a short cache saves two queries per appraisal. */
  private readonly lookupCache = new Map<string, { until: number; value: unknown }>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly nonces: NonceStore,
    private readonly verifier: VerifierKeyService,
    private readonly broker: BrokerService,
    private readonly certs: CertificateStatusService,
    private readonly firmware: FirmwareService,
    private readonly events: EventBusService,
    private readonly measuredBoot: MeasuredBootStore,
    private readonly psa: PsaService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.broker.register('evidence', (deviceId, payload) => this.receiveMqttEvidence(deviceId, payload));
    this.broker.register('status', async (deviceId) => {
      await this.ds.query('UPDATE devices SET last_seen_at = now() WHERE id = $1', [deviceId]);
      return { ack: true };
    });
    this.broker.onDeviceReady((deviceId) => void this.challengeOverMqtt(deviceId).catch((e) => this.logger.warn(`challenge to ${deviceId} failed: ${(e as Error).message}`)));
    this.broker.onDeviceGone((deviceId) => this.lastChallenge.delete(deviceId));
    // Evidence acknowledged before a crash but not yet appraised: appraise it now.
    const pending: Array<{ id: string; device_id: string; evidence: string }> = await this.ds.query(
      `SELECT id, device_id, evidence FROM attestation_inbox WHERE processed_at IS NULL ORDER BY received_at`,
    );
    if (pending.length) this.logger.log(`appraising ${pending.length} evidence message(s) received before the last stop`);
    for (const p of pending) this.enqueue({ inboxId: p.id, deviceId: p.device_id, evidence: p.evidence, receivedAt: Date.now() });
    const tick = Math.max(1000, Math.min(30_000, (this.config.attestIntervalSeconds * 1000) / 4));
    this.timer = setInterval(() => void this.periodic().catch((e) => this.logger.warn(`periodic attestation failed: ${(e as Error).message}`)), tick);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const deadline = Date.now() + 5000;
    while (this.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /* ------------------------------------------------------------------ challenges */

  async challenge(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    return this.nonces.issue(deviceId);
  }

  async challengeOverMqtt(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    const c = await this.nonces.issue(deviceId);
    this.lastChallenge.set(deviceId, Date.now());
    await this.broker.publishToDevice(deviceId, 'challenge', { nonce: c.nonce, expiresAt: c.expiresAt.toISOString() });
    return c;
  }

  /** Operator-triggered attestation: the device must be connected to the broker. */
  async attestNow(deviceId: string): Promise<{ deviceId: string; nonce: string; expiresAt: Date; channel: 'mqtt' }> {
    if (!this.broker.isConnected(deviceId)) throw conflict('attestation.not-connected', `device ${deviceId} is not connected to the broker; it will be challenged when it connects`);
    const c = await this.challengeOverMqtt(deviceId);
    return { deviceId, nonce: c.nonce, expiresAt: c.expiresAt, channel: 'mqtt' };
  }

  /** Re-challenges connected devices at the configured interval; flags devices whose last affirming result is too old. */
  private async periodic(): Promise<void> {
    const now = Date.now();
    const interval = this.config.attestIntervalSeconds * 1000;
    for (const deviceId of this.broker.connectedDevices()) {
      const last = this.lastChallenge.get(deviceId) ?? 0;
      if (now - last >= interval) await this.challengeOverMqtt(deviceId).catch(() => undefined);
    }
    // A device turns stale when its last affirming result (or, never affirmed, its last result)
    // grows older than 2 × the interval. Each sweep notifies the devices that crossed that line
    // since the previous sweep, so none is notified twice and none is missed, however many.
    const cutoff = new Date(now - 2 * interval);
    const since = new Date(this.lastSweep - 2 * interval);
    this.lastSweep = now;
    const stale: Array<{ id: string; manufacturer_org_id: string; operator_org_id: string | null; affirmed_at: Date | null }> = await this.ds.query(
      `SELECT id, manufacturer_org_id, operator_org_id, affirmed_at FROM devices
       WHERE status = 'active' AND attestation_at IS NOT NULL
         AND COALESCE(affirmed_at, attestation_at) > $1 AND COALESCE(affirmed_at, attestation_at) <= $2`,
      [since, cutoff],
    );
    for (const d of stale) {
      this.events.publish('attestation.stale', { deviceId: d.id, audience: [d.manufacturer_org_id, d.operator_org_id], data: { status: 'stale', lastAffirmedAt: d.affirmed_at } });
    }
  }

  /* ------------------------------------------------------------------ evidence */

  /**
   * MQTT: the evidence is written to the inbox (durable) before the broker sends PUBACK; the
   * appraisal follows asynchronously and its EAR is published on the device's result topic.
   * A duplicate (same evidence again, e.g. a QoS 1 redelivery) is acknowledged, not appraised twice.
   */
  private async receiveMqttEvidence(deviceId: string, payload: Buffer): Promise<InboundOutcome> {
    let evidence: unknown;
    try {
      const body = JSON.parse(payload.toString('utf8')) as { evidence?: unknown; psaToken?: unknown } | null;
      // `{psaToken}`: a PSA attestation token (RFC 9783), kept as its base64url text (no dots, so never mistaken for a JWS).
      if (body && typeof body === 'object' && body.psaToken !== undefined && body.evidence === undefined) evidence = assertPsaTokenText(body.psaToken);
      else {
        evidence = body?.evidence;
        assertCompactJws(evidence);
      }
    } catch (e) {
      const code = isDomainError(e) ? e.code : 'bad-json';
      refused.inc({ code, channel: 'mqtt' });
      return { ack: false, code, message: isDomainError(e) ? e.message : 'the payload must be JSON {"evidence": "<compact JWS>"}' };
    }
    const stored = await this.record(deviceId, evidence as string, 'mqtt');
    if (stored.duplicate) {
      const prior = await this.resultForInbox(stored.inboxId);
      if (prior) void this.broker.publishToDevice(deviceId, 'result', { ear: prior.ear }).catch(() => undefined);
      return { ack: true };
    }
    this.enqueue({ inboxId: stored.inboxId, deviceId, evidence: evidence as string, receivedAt: Date.now() });
    return { ack: true };
  }

  /** HTTP: the same pipeline, answered synchronously with the EAR. */
  async receiveHttpEvidence(deviceId: string, evidence: unknown, psaToken?: unknown): Promise<{ ear: string; status: string; reasons: string[] }> {
    const started = Date.now();
    try {
      if ((evidence === undefined) === (psaToken === undefined)) throw new DomainError('evidence-missing', 'send exactly one of evidence (EAT, compact JWS) or psaToken (base64url PSA token)', 'invalid');
      if (psaToken !== undefined) evidence = assertPsaTokenText(psaToken);
      else assertCompactJws(evidence);
    } catch (e) {
      refused.inc({ code: isDomainError(e) ? e.code : 'invalid', channel: 'http' });
      throw e;
    }
    const stored = await this.record(deviceId, evidence as string, 'http');
    if (stored.duplicate) {
      const prior = await this.resultForInbox(stored.inboxId);
      if (prior) return { ear: prior.ear, status: prior.status, reasons: prior.reasons };
      throw conflict('evidence.in-progress', 'this evidence is being appraised already');
    }
    const r = await this.appraiseAndStore(stored.inboxId, deviceId, evidence as string, 'http', started);
    if (!r) throw new DomainError('evidence-claims-invalid', 'the evidence could not be appraised', 'invalid');
    return { ear: r.ear, status: r.status, reasons: r.reasons };
  }

  private async record(deviceId: string, evidence: string, channel: 'mqtt' | 'http'): Promise<{ inboxId: string; duplicate: boolean }> {
    const hash = createHash('sha256').update(evidence).digest('hex');
    const id = randomUUID();
    const rows: Array<{ id: string }> = await this.ds.query(
      `INSERT INTO attestation_inbox (id, device_id, evidence_hash, evidence, channel) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (evidence_hash) DO NOTHING RETURNING id`,
      [id, deviceId, hash, evidence, channel],
    );
    if (rows.length) return { inboxId: id, duplicate: false };
    const existing: Array<{ id: string }> = await this.ds.query('SELECT id FROM attestation_inbox WHERE evidence_hash = $1', [hash]);
    return { inboxId: existing[0].id, duplicate: true };
  }

  private async resultForInbox(inboxId: string): Promise<StoredResult | null> {
    const rows = await this.ds.query('SELECT id, status, ear, reasons FROM attestation_results WHERE inbox_id = $1 LIMIT 1', [inboxId]);
    return rows[0] ?? null;
  }

  private enqueue(job: { inboxId: string; deviceId: string; evidence: string; receivedAt: number }): void {
    this.queue.push(job);
    this.drain();
  }

  private drain(): void {
    while (!this.closing && this.active < this.maxActive && this.queue.length) {
      const job = this.queue.shift()!;
      this.active++;
      void this.appraiseAndStore(job.inboxId, job.deviceId, job.evidence, 'mqtt', job.receivedAt)
        .then((r) => {
          if (r) return this.broker.publishToDevice(job.deviceId, 'result', { ear: r.ear });
        })
        .catch((e) => this.logger.error(`appraisal of ${job.inboxId} from ${job.deviceId} failed: ${(e as Error).stack ?? e}`))
        .finally(() => {
          this.active--;
          this.drain();
        });
    }
  }

  /** Appraises, signs the EAR, stores result + device state + inbox mark in one transaction, then tells the world. */
  private async appraiseAndStore(inboxId: string, deviceId: string, evidence: string, channel: 'mqtt' | 'http', startedAt: number): Promise<StoredResult | null> {
    let result: AppraisalResult | PsaAppraisalResult;
    try {
      const psaToken = psaTokenOf(evidence);
      result = psaToken ? await this.psa.appraise(deviceId, psaToken) : await appraiseEvidence({ deviceId, evidence }, this.ports());
    } catch (e) {
      if (!isDomainError(e)) throw e;
      // Evidence we cannot read even after its signature: recorded as processed, refused, told to the device.
      await this.ds.query('UPDATE attestation_inbox SET processed_at = now() WHERE id = $1', [inboxId]);
      refused.inc({ code: e.code, channel });
      this.logger.warn(`evidence from ${deviceId} refused: ${e.code}: ${e.message}`);
      if (channel === 'mqtt') void this.broker.publishToDevice(deviceId, 'result', { error: { code: e.code, message: e.message, topic: 'evidence' } }).catch(() => undefined);
      if (channel === 'http') throw e;
      return null;
    }
    if ('imaState' in result && result.imaState) await this.measuredBoot.saveImaState(deviceId, result.imaState);
    const ear = await signEar(result, { verifierKey: this.verifier.verifierKey, verifierId: VERIFIER_ID, nonce: result.nonce, deviceId, form: this.config.earForm });
    const id = randomUUID();
    const affirming = result.status === 'affirming';
    // One statement stores the result with its evidence, moves the device's state and marks the
    // inbox entry processed: atomic without an explicit transaction, one round trip.
    const stored = await this.ds.query(
      `WITH stored AS (
         INSERT INTO attestation_results (id, device_id, inbox_id, status, trust_vector, reasons, findings, firmware_version, security_counter, evidence, claims, ear)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)),
       inbox AS (UPDATE attestation_inbox SET processed_at = now() WHERE id = $3)
       UPDATE devices SET attestation_status = $4, attestation_at = now(), last_seen_at = now(),
         affirmed_at = CASE WHEN $13 THEN now() ELSE affirmed_at END,
         firmware_version = CASE WHEN $13 THEN $14 ELSE firmware_version END,
         firmware_security_counter = CASE WHEN $13 THEN $15::integer ELSE firmware_security_counter END,
         max_security_counter_seen = CASE WHEN $13 THEN GREATEST(COALESCE(max_security_counter_seen, 0), $15::integer) ELSE max_security_counter_seen END
       WHERE id = $2 RETURNING manufacturer_org_id, operator_org_id`,
      [
        id, deviceId, inboxId, result.status, JSON.stringify(result.trustVector), JSON.stringify(result.reasons), JSON.stringify(result.findings),
        result.firmware?.version ?? (result.claims && 'fw' in result.claims ? result.claims.fw.version : null), result.firmware?.securityCounter ?? null, evidence,
        result.claims ? JSON.stringify(result.claims) : null, ear, affirming, result.firmware?.version ?? null, result.firmware?.securityCounter ?? null,
      ],
    );
    const device = returningRows<{ manufacturer_org_id: string; operator_org_id: string | null }>(stored)[0];
    appraisals.inc({ status: result.status, channel });
    latency.observe({ channel }, (Date.now() - startedAt) / 1000);
    if (device) {
      const audience = [device.manufacturer_org_id, device.operator_org_id];
      const data = { status: result.status, reasons: result.reasons, resultId: id, at: new Date().toISOString() };
      this.events.publish('attestation.result', { deviceId, audience, data });
      if (result.status === 'contraindicated' || result.status === 'warning') this.events.publish('attestation.failed', { deviceId, audience, data });
    }
    return { id, status: result.status, ear, reasons: result.reasons };
  }

  private deviceKey(d: DeviceRow): KeyObject {
    const cacheKey = `${d.id}:${d.cert_serial}`;
    let key = this.keyCache.get(cacheKey);
    if (!key) {
      key = createPublicKey({ key: Buffer.from(d.public_key_spki), format: 'der', type: 'spki' });
      if (this.keyCache.size > 50_000) this.keyCache.clear();
      this.keyCache.set(cacheKey, key);
    }
    return key;
  }

  /** Two seconds of caching: a revoked release or key is untrusted within two seconds on every appraisal. */
  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.lookupCache.get(key);
    if (hit && hit.until > Date.now()) return hit.value as T;
    const value = await load();
    if (this.lookupCache.size > 10_000) this.lookupCache.clear();
    this.lookupCache.set(key, { until: Date.now() + 2000, value });
    return value;
  }

  private ports(): AppraisalPorts {
    return {
      findDevice: async (id) => {
        const rows: DeviceRow[] = await this.ds.query(
          'SELECT id, product_id, manufacturer_org_id, operator_org_id, status, public_key_spki, ak_public_key, cert_serial, max_security_counter_seen FROM devices WHERE id = $1',
          [id],
        );
        const d = rows[0];
        if (!d) return null;
        const certState = d.status === 'revoked' ? 'revoked' : d.cert_serial ? await this.certs.status(d.cert_serial) : 'revoked';
        return {
          deviceId: d.id,
          productId: d.product_id,
          publicKey: this.deviceKey(d),
          certificateStatus: certState === 'valid' ? 'valid' : certState === 'expired' ? 'expired' : 'revoked',
          akPublicKey: d.ak_public_key,
          lastSecurityCounter: d.max_security_counter_seen,
        };
      },
      consumeNonce: (id, nonce) => this.nonces.consume(id, nonce),
      findRelease: (productId, version) => this.cached(`release:${productId}:${version}`, () => this.firmware.findRelease(productId, version)),
      findMeasuredBoot: (productId, version) => this.cached(`mb:${productId}:${version}`, () => this.measuredBoot.find(productId, version)),
      findRuntimePolicy: (productId) => this.cached(`rp:${productId}`, () => this.measuredBoot.findRuntimePolicy(productId)),
      loadImaState: (deviceId) => this.measuredBoot.loadImaState(deviceId),
      minimumSecurityCounter: (productId) =>
        this.cached(`min:${productId}`, async () => {
          const rows = await this.ds.query('SELECT min_security_counter FROM products WHERE id = $1', [productId]);
          return (rows[0]?.min_security_counter ?? 0) as number;
        }),
    };
  }
}
