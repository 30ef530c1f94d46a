import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { KeyObject, createPublicKey } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CertificateStatusService } from '@fleetguard/pki';
import { FirmwareService } from '@fleetguard/firmware';
import type { AppraisalPorts } from '../core/appraisal.pipeline';
import { EvidenceInboxRepository, InboxJob } from './evidence-inbox.repository';
import { MeasuredBootStore } from './measured-boot.store';
import { GroupedCall } from './grouped-call';
import type { NonceState } from '../core/appraisal.pipeline';
import { JwsCryptoService } from './jws-crypto.service';

interface DeviceRow {
  id: string;
  product_id: string;
  status: string;
  public_key_spki: Buffer;
  ak_public_key: string | null;
  cert_serial: string | null;
  max_security_counter_seen: number | null;
  ueid: string | null;
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

  /** The appraisals of a burst look up their devices in one statement... */
  private readonly devices = new GroupedCall<string, DeviceRow | undefined>(async (ids) => {
    const rows: DeviceRow[] = await this.ds.query(
      'SELECT id, product_id, status, public_key_spki, ak_public_key, cert_serial, max_security_counter_seen, ueid FROM devices WHERE id = ANY($1::varchar[])',
      [[...new Set(ids)]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id));
  });
  /** ...and their nonces in another (as each stood when its evidence was received). */
  private readonly nonces = new GroupedCall<{ deviceId: string; nonce: string; receivedAt: Date }, NonceState>((items) => this.inbox.nonceStatesAt(items));

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
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
        const certState = d.status === 'revoked' ? 'revoked' : d.cert_serial ? await this.certs.status(d.cert_serial) : 'revoked';
        return {
          deviceId: d.id,
          productId: d.product_id,
          publicKey: this.deviceKey(d),
          certificateStatus: certState === 'valid' ? 'valid' : certState === 'expired' ? 'expired' : 'revoked',
          akPublicKey: d.ak_public_key,
          lastSecurityCounter: d.max_security_counter_seen,
          ueid: d.ueid ? Buffer.from(d.ueid, 'hex') : null,
        };
      },
      consumeNonce: (deviceId, nonce) => this.nonceStateAt(deviceId, nonce, job.receivedAt),
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

  /** How a nonce stood when evidence carrying it was received (grouped with the burst's other lookups). */
  nonceStateAt(deviceId: string, nonce: string, receivedAt: Date): Promise<NonceState> {
    return this.nonces.call({ deviceId, nonce, receivedAt });
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
