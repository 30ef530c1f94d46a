import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** What a verifier needs of a device to appraise its EAT evidence. */
export interface DeviceKeysRecord {
  id: string;
  productId: string;
  status: string;
  /** The certified public key (SPKI DER). */
  publicKeySpki: Buffer;
  /** The TPM attestation key registered at enrollment (PEM). */
  akPublicKey: string | null;
  certSerial: string | null;
  /** The anti-rollback high-water mark: the highest security counter an affirming result carried. */
  maxSecurityCounterSeen: number | null;
  /** RFC 9711 UEID (hex) registered at enrollment. */
  ueid: string | null;
}

/** What a verifier needs of a device to appraise its PSA token. */
export interface PsaDeviceRecord {
  id: string;
  productId: string;
  status: string;
  certSerial: string | null;
  /** The Initial Attestation Key registered at enrollment (PEM). */
  iakPublicKey: string | null;
  psaInstanceId: string | null;
  psaImplementationId: string | null;
}

/**
 * Fleet's reads for other libs that need more of a device or product row than the published views
 * show (keys, identities registered at enrollment, the anti-rollback marks): queries only, one
 * statement each, so a caller that groups its look-ups (the appraisal of a burst) keeps one
 * statement per group.
 */
@Injectable()
export class DeviceDirectoryReader {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The devices of `ids` that exist, by id (one statement for all). */
  async deviceKeys(ids: readonly string[]): Promise<Map<string, DeviceKeysRecord>> {
    if (!ids.length) return new Map();
    const rows: Array<{ id: string; product_id: string; status: string; public_key_spki: Buffer | Uint8Array; ak_public_key: string | null; cert_serial: string | null; max_security_counter_seen: string | number | null; ueid: string | null }> =
      await this.ds.query(
        'SELECT id, product_id, status, public_key_spki, ak_public_key, cert_serial, max_security_counter_seen, ueid FROM devices WHERE id = ANY($1::varchar[])',
        [[...new Set(ids)]],
      );
    return new Map(
      rows.map((r) => [
        r.id,
        {
          id: r.id,
          productId: r.product_id,
          status: r.status,
          publicKeySpki: Buffer.isBuffer(r.public_key_spki) ? r.public_key_spki : Buffer.from(r.public_key_spki),
          akPublicKey: r.ak_public_key,
          certSerial: r.cert_serial,
          maxSecurityCounterSeen: r.max_security_counter_seen === null ? null : Number(r.max_security_counter_seen),
          ueid: r.ueid,
        },
      ]),
    );
  }

  async psaDevice(id: string): Promise<PsaDeviceRecord | null> {
    const rows: Array<{ id: string; product_id: string; status: string; cert_serial: string | null; iak_public_key: string | null; psa_instance_id: string | null; psa_implementation_id: string | null }> = await this.ds.query(
      'SELECT id, product_id, status, cert_serial, iak_public_key, psa_instance_id, psa_implementation_id FROM devices WHERE id = $1',
      [id],
    );
    const d = rows[0];
    if (!d) return null;
    return { id: d.id, productId: d.product_id, status: d.status, certSerial: d.cert_serial, iakPublicKey: d.iak_public_key, psaInstanceId: d.psa_instance_id, psaImplementationId: d.psa_implementation_id };
  }

  /** The product's minimum firmware security counter (0 for no product: nothing is below it). */
  async minSecurityCounter(productId: string): Promise<number> {
    const rows: Array<{ min_security_counter: string | number }> = await this.ds.query('SELECT min_security_counter FROM products WHERE id = $1', [productId]);
    return rows.length ? Number(rows[0].min_security_counter) : 0;
  }
}
