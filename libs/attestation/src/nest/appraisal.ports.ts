import { Injectable } from '@nestjs/common';
import { KeyObject, createPublicKey } from 'node:crypto';
import { CertificateStatusService } from '@fleetguard/pki/nest';
import { FirmwareService } from '@fleetguard/firmware/nest';
import { DeviceDirectoryReader, type DeviceKeysRecord } from '@fleetguard/fleet/nest';
import type { AppraisalPorts } from '../core/appraisal.pipeline';
import { EvidenceInboxRepository, InboxJob, NonceRow, nonceStateOf } from './evidence-inbox.repository';
import { MeasuredBootStore } from './measured-boot.store';
import { GroupedCall } from '@fleetguard/common';
import { unverifiedEvidenceNonce, type NonceState } from '../core/appraisal.pipeline';
import type { JwsCrypto } from '../core/jws.pool';
import type { JwsVerification } from '../core/jws.compact';
import { jwsAlgorithmsFor } from '../core/public-key';
import { JwsCryptoService } from './jws-crypto.service';
import { NonceStore } from './nonce.store';

/** How old an early look may be when its appraisal starts (the look-up cache's two seconds: a revoked key is untrusted within them). */
const EARLY_LOOK_MS = 2000;

/**
 * What can be looked up about evidence before its inbox row exists: the device (its key) and the
 * check of the signature with that key. Started when the evidence is admitted, while its row is
 * being inserted; the appraisal then finds them done. Each promise has a handler attached, so an
 * early look that fails and is never used is nobody's unhandled rejection (the appraisal that
 * uses it sees the failure, as it would have seen its own).
 */
export interface EarlyLook {
  /** When it started (Date.now()): older than EARLY_LOOK_MS at the appraisal, it is not used. */
  at: number;
  deviceId: string;
  evidence: string;
  device: Promise<DeviceKeysRecord | undefined>;
  verification: Promise<{ key: KeyObject; algorithms: readonly string[]; result: Promise<JwsVerification> } | null>;
  /** The stored row of the nonce the unverified payload names (judged against the receipt time once the row is recorded). */
  nonce: { value: string; row: Promise<NonceRow | undefined> } | null;
}

/**
 * The appraisal pipeline's ports for one inbox row. Nothing here writes: the nonce is only
 * looked at (as it stood when the evidence was received); its use commits with the result.
 */
@Injectable()
export class AppraisalPortsFactory {
  /** Parsed device keys by device and certificate serial (a renewal or revocation changes the serial). */
  private readonly keyCache = new Map<string, KeyObject>();
  /**
   * Releases and product minimums change rarely; a short cache saves two queries per appraisal.
   * It holds the look-up's promise, so the appraisals that miss together share one query (when
   * an entry ran out, every appraisal in flight used to ask again: ~20 queries a second).
   */
  private readonly lookupCache = new Map<string, { until: number; value: Promise<unknown> }>();

  /** The appraisals of a burst look up their devices in one statement (fleet's)... */
  private readonly devices = new GroupedCall<string, DeviceKeysRecord | undefined>(async (ids) => {
    const byId = await this.directory.deviceKeys(ids);
    return ids.map((id) => byId.get(id));
  });
  /** Early looks read nonce rows before the receipt time is known (judged later, nonceStateOf). */
  private readonly nonceRows = new GroupedCall<string, NonceRow | undefined>(async (nonces) => {
    const byNonce = await this.inbox.nonceRows(nonces);
    return nonces.map((n) => byNonce.get(n));
  });
  /** ...and their nonces in another (as each stood when its evidence was received). */
  private readonly nonces = new GroupedCall<{ deviceId: string; nonce: string; receivedAt: Date }, NonceState>((items) => this.inbox.nonceStatesAt(items));

  constructor(
    private readonly directory: DeviceDirectoryReader,
    private readonly inbox: EvidenceInboxRepository,
    private readonly certs: CertificateStatusService,
    private readonly firmware: FirmwareService,
    private readonly measuredBoot: MeasuredBootStore,
    private readonly crypto: JwsCryptoService,
    private readonly issuedNonces: NonceStore,
  ) {}

  /** Early looks by job: taken by the job's first forJob() (a second appraisal of it, after a lost nonce or a retry, looks again). */
  private readonly early = new WeakMap<InboxJob, EarlyLook>();

  /**
   * Starts the look-ups of EAT evidence that need no inbox row (the device, the signature check)
   * while its row is being recorded; attach() gives them to the job. Not for PSA tokens (their
   * own appraisal).
   */
  lookEarly(deviceId: string, evidence: string): EarlyLook {
    const device = this.devices.call(deviceId);
    const verification = device.then((d) => {
      if (!d) return null;
      const key = this.deviceKey(d);
      const algorithms = jwsAlgorithmsFor(key);
      if (!algorithms.length) return null;
      const result = this.crypto.verify(evidence, key, algorithms);
      result.catch(() => undefined);
      return { key, algorithms, result };
    });
    device.catch(() => undefined);
    verification.catch(() => undefined);
    const value = unverifiedEvidenceNonce(evidence);
    const nonce = value === null ? null : { value, row: this.nonceRow(value) };
    nonce?.row.catch(() => undefined);
    return { at: Date.now(), deviceId, evidence, device, verification, nonce };
  }

  /** The job recorded for an early look's evidence. */
  attach(job: InboxJob, look: EarlyLook): void {
    if (look.deviceId === job.deviceId && look.evidence === job.evidence) this.early.set(job, look);
  }

  forJob(job: InboxJob): AppraisalPorts {
    const look = this.early.get(job);
    if (look) this.early.delete(job);
    const early = look && Date.now() - look.at <= EARLY_LOOK_MS ? look : undefined;
    return {
      crypto: early ? this.earlyCrypto(early) : this.crypto,
      findDevice: async (id) => {
        const d = await (early && id === early.deviceId ? early.device : this.devices.call(id));
        if (!d) return null;
        const certState = d.status === 'revoked' ? 'revoked' : d.certSerial ? await this.certs.status(d.certSerial) : 'revoked';
        return {
          deviceId: d.id,
          productId: d.productId,
          publicKey: this.deviceKey(d),
          certificateStatus: certState === 'valid' ? 'valid' : certState === 'expired' ? 'expired' : 'revoked',
          akPublicKey: d.akPublicKey,
          lastSecurityCounter: d.maxSecurityCounterSeen,
          ueid: d.ueid ? Buffer.from(d.ueid, 'hex') : null,
        };
      },
      consumeNonce: (deviceId, nonce) => this.nonceStateAt(deviceId, nonce, job.receivedAt),
      // The same look (this store never uses a nonce before the commit): asked beside the device look-up.
      peekNonce: (deviceId, nonce) =>
        early?.nonce && early.nonce.value === nonce ? early.nonce.row.then((row) => nonceStateOf(row, deviceId, job.receivedAt)) : this.nonceStateAt(deviceId, nonce, job.receivedAt),
      // The early look read this evidence's payload for its nonce already (attach: same evidence).
      ...(early ? { unverifiedNonce: early.nonce?.value ?? null } : {}),
      findRelease: (productId, version) => this.cached(`release:${productId}:${version}`, () => this.firmware.findRelease(productId, version)),
      findMeasuredBoot: (productId, version) => this.cached(`mb:${productId}:${version}`, () => this.measuredBoot.find(productId, version)),
      findRuntimePolicy: (productId) => this.cached(`rp:${productId}`, () => this.measuredBoot.findRuntimePolicy(productId)),
      loadImaState: (deviceId) => this.measuredBoot.loadImaState(deviceId),
      minimumSecurityCounter: (productId) => this.cached(`min:${productId}`, () => this.directory.minSecurityCounter(productId)),
    };
  }

  /** The pool, answering the early look's check when asked the very same one (evidence, key, algorithms). */
  private earlyCrypto(early: EarlyLook): JwsCrypto {
    return {
      verify: async (jws, key, algorithms) => {
        const v = await early.verification;
        if (v && jws === early.evidence && v.key === key && v.algorithms.length === algorithms.length && v.algorithms.every((a, i) => a === algorithms[i])) return v.result;
        return this.crypto.verify(jws, key, algorithms);
      },
      sign: (input, alg, key) => this.crypto.sign(input, alg, key),
    };
  }

  /**
   * The early look's row of a nonce: as this instance issued it, when it did and has not
   * committed a result with it (no round trip; a nonce used elsewhere meanwhile is caught by the
   * commit, and the appraisal runs again on the stored row), else the stored row.
   */
  private nonceRow(nonce: string): Promise<NonceRow | undefined> {
    const here = this.issuedNonces.issuedHere(nonce);
    if (here) return Promise.resolve({ nonce, device_id: here.deviceId, used_at: null, expires_at: here.expiresAt });
    return this.nonceRows.call(nonce);
  }

  /** A result with this nonce committed: later evidence naming it reads the stored row (and sees it used). */
  nonceUsed(nonce: string): void {
    this.issuedNonces.used(nonce);
  }

  /** How a nonce stood when evidence carrying it was received (grouped with the burst's other lookups). */
  nonceStateAt(deviceId: string, nonce: string, receivedAt: Date): Promise<NonceState> {
    return this.nonces.call({ deviceId, nonce, receivedAt });
  }

  private deviceKey(d: DeviceKeysRecord): KeyObject {
    const cacheKey = `${d.id}:${d.certSerial}`;
    let key = this.keyCache.get(cacheKey);
    if (!key) {
      key = createPublicKey({ key: d.publicKeySpki, format: 'der', type: 'spki' });
      if (this.keyCache.size > 50_000) this.keyCache.clear();
      this.keyCache.set(cacheKey, key);
    }
    return key;
  }

  /** Two seconds of caching: a revoked release or key is untrusted within two seconds on every appraisal. A failed look-up is not kept. */
  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.lookupCache.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    if (this.lookupCache.size > 10_000) this.lookupCache.clear();
    const entry = { until: now + 2000, value };
    this.lookupCache.set(key, entry);
    value.catch(() => {
      if (this.lookupCache.get(key) === entry) this.lookupCache.delete(key);
    });
    return value;
  }
}
