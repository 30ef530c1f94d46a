import { Injectable } from '@nestjs/common';
import { KeyObject, createPublicKey } from 'node:crypto';
import { CertificateStatusService } from '@fleetguard/pki/nest';
import { FirmwareService } from '@fleetguard/firmware/nest';
import { DeviceDirectoryReader, type DeviceKeysRecord } from '@fleetguard/fleet/nest';
import type { AppraisalPorts } from '../core/appraisal.pipeline';
import { EvidenceInboxRepository, InboxJob } from './evidence-inbox.repository';
import { MeasuredBootStore } from './measured-boot.store';
import { GroupedCall } from '@fleetguard/common';
import type { NonceState } from '../core/appraisal.pipeline';
import { JwsCryptoService } from './jws-crypto.service';

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
  /** ...and their nonces in another (as each stood when its evidence was received). */
  private readonly nonces = new GroupedCall<{ deviceId: string; nonce: string; receivedAt: Date }, NonceState>((items) => this.inbox.nonceStatesAt(items));

  constructor(
    private readonly directory: DeviceDirectoryReader,
    private readonly inbox: EvidenceInboxRepository,
    private readonly certs: CertificateStatusService,
    private readonly firmware: FirmwareService,
    private readonly measuredBoot: MeasuredBootStore,
    private readonly crypto: JwsCryptoService,
  ) {}

  forJob(job: InboxJob): AppraisalPorts {
    return {
      crypto: this.crypto,
      findDevice: async (id) => {
        const d = await this.devices.call(id);
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
      peekNonce: (deviceId, nonce) => this.nonceStateAt(deviceId, nonce, job.receivedAt),
      findRelease: (productId, version) => this.cached(`release:${productId}:${version}`, () => this.firmware.findRelease(productId, version)),
      findMeasuredBoot: (productId, version) => this.cached(`mb:${productId}:${version}`, () => this.measuredBoot.find(productId, version)),
      findRuntimePolicy: (productId) => this.cached(`rp:${productId}`, () => this.measuredBoot.findRuntimePolicy(productId)),
      loadImaState: (deviceId) => this.measuredBoot.loadImaState(deviceId),
      minimumSecurityCounter: (productId) => this.cached(`min:${productId}`, () => this.directory.minSecurityCounter(productId)),
    };
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
