import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, createPublicKey, KeyObject, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { invalid } from '@fleetguard/common';
import type { Principal } from '@fleetguard/auth/nest';
import { CertificateStatusService } from '@fleetguard/pki/nest';
import { FirmwareService } from '@fleetguard/firmware/nest';
import { DeviceDirectoryReader, ProductsService } from '@fleetguard/fleet/nest';
import { corimView, parseCorim } from '../core/corim.parser';
import { appraisePsaToken, PsaAppraisalPorts, PsaAppraisalResult, PsaReferenceValue } from '../core/psa-token.appraisal';
import type { NonceState } from '../core/appraisal.pipeline';

const hexBuf = (h: string | null) => (h ? Buffer.from(h, 'hex') : null);

/** The SHA-256 signer ids MCUboot/TF-M may report for a key: of the SPKI (EC, Ed25519), and of PKCS#1 for RSA. */
function signerIdsOf(pem: string): Buffer[] {
  const key: KeyObject = createPublicKey(pem);
  const forms = [key.export({ type: 'spki', format: 'der' })];
  if (key.asymmetricKeyType === 'rsa') forms.push(key.export({ type: 'pkcs1', format: 'der' }));
  return forms.map((f) => createHash('sha256').update(f).digest());
}

/**
 * PSA attestation (RFC 9783) around the core: the ports of the appraisal over the device row (fleet's reader),
 * the nonce store, the CoRIM tables and the product's MCUboot releases; and the CoRIM import.
 */
@Injectable()
export class PsaService {
  /** Parsed IAKs by PEM: parsing a key costs about as much as the appraisal around it. */
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly certs: CertificateStatusService,
    private readonly firmware: FirmwareService,
    private readonly products: ProductsService,
    private readonly directory: DeviceDirectoryReader,
  ) {}

  private key(pem: string): KeyObject {
    let k = this.keys.get(pem);
    if (!k) {
      k = createPublicKey(pem);
      if (this.keys.size > 50_000) this.keys.clear();
      this.keys.set(pem, k);
    }
    return k;
  }

  /**
   * `nonceState` looks the token's nonce up as it stood when the evidence was received (the
   * appraisal worker's; its use commits with the result).
   */
  appraise(deviceId: string, token: Uint8Array, nonceState: (deviceId: string, nonce: string) => Promise<NonceState>): Promise<PsaAppraisalResult> {
    return appraisePsaToken({ deviceId, token }, this.ports(nonceState));
  }

  /** Records a CoRIM's PSA reference triples and attest-key triples for a product; answers what was recorded. */
  async importCorim(p: Principal, productId: string, body: Buffer, signed: boolean) {
    await this.products.getOwned(p, productId);
    const keys = signed ? (await this.firmware.activeSigningKeyPems(productId)).map((pem) => createPublicKey(pem)) : [];
    const corim = parseCorim(body, { signed, keys });
    const view = corimView(corim);
    const importId = randomUUID();
    await this.ds.transaction(async (m) => {
      const dup: unknown[] = await m.query('SELECT 1 FROM corim_imports WHERE product_id = $1 AND sha256 = $2', [productId, corim.sha256]);
      if (dup.length) throw invalid('corim.duplicate', `CoRIM '${corim.id}' (sha256 ${corim.sha256}) was imported for this product already`);
      await m.query(`INSERT INTO corim_imports (id, product_id, corim_id, profile, signed, sha256, reference_values, attest_keys) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
        importId, productId, corim.id, corim.profile, signed, corim.sha256, corim.referenceValues.length, corim.attestKeys.length,
      ]);
      for (const r of corim.referenceValues) {
        for (const d of r.digests) {
          await m.query(
            `INSERT INTO psa_reference_values (id, import_id, product_id, implementation_id, measurement_type, version, signer_ids, digest_alg, measurement_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [randomUUID(), importId, productId, r.implementationId.toString('hex'), r.measurementType, r.version, JSON.stringify(r.signerIds.map((s) => s.toString('hex'))), d.alg, d.value.toString('hex')],
          );
        }
      }
      for (const k of corim.attestKeys) {
        await m.query(
          `INSERT INTO psa_attest_keys (id, import_id, product_id, implementation_id, instance_id, public_key_pem) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (product_id, implementation_id, instance_id) DO UPDATE SET public_key_pem = EXCLUDED.public_key_pem, import_id = EXCLUDED.import_id`,
          [randomUUID(), importId, productId, k.implementationId.toString('hex'), k.instanceId.toString('hex'), k.publicKeyPem],
        );
      }
    });
    return { importId, recorded: view };
  }

  private ports(nonceState: PsaAppraisalPorts['consumeNonce']): PsaAppraisalPorts {
    return {
      findDevice: async (id) => {
        const d = await this.directory.psaDevice(id);
        if (!d) return null;
        const cert = d.status === 'revoked' ? 'revoked' : d.certSerial ? await this.certs.status(d.certSerial) : 'revoked';
        const implementationId = hexBuf(d.psaImplementationId);
        return {
          deviceId: d.id,
          productId: d.productId,
          certificateStatus: cert === 'valid' ? 'valid' : cert === 'expired' ? 'expired' : 'revoked',
          iak: d.iakPublicKey ? { publicKey: this.key(d.iakPublicKey), instanceId: hexBuf(d.psaInstanceId), implementationId, source: 'enrollment' } : null,
          instanceId: hexBuf(d.psaInstanceId),
          implementationId,
        };
      },
      findAttestKey: async (productId, implementationId, instanceId) => {
        const rows: Array<{ public_key_pem: string }> = await this.ds.query(
          'SELECT public_key_pem FROM psa_attest_keys WHERE product_id = $1 AND implementation_id = $2 AND instance_id = $3',
          [productId, implementationId.toString('hex'), instanceId.toString('hex')],
        );
        return rows[0] ? { publicKey: this.key(rows[0].public_key_pem), instanceId, implementationId, source: 'corim' } : null;
      },
      consumeNonce: nonceState,
      referenceValues: async (productId, implementationId) => {
        const corim: Array<{ corim_id: string; measurement_type: string | null; version: string | null; signer_ids: string[] | string; measurement_value: string }> = await this.ds.query(
          `SELECT i.corim_id, v.measurement_type, v.version, v.signer_ids, v.measurement_value FROM psa_reference_values v JOIN corim_imports i ON i.id = v.import_id
           WHERE v.product_id = $1 AND v.implementation_id = $2`,
          [productId, implementationId.toString('hex')],
        );
        const refs: PsaReferenceValue[] = corim.map((r) => ({
          source: `CoRIM '${r.corim_id}'`,
          kind: 'corim',
          implementationId,
          measurementType: r.measurement_type,
          version: r.version,
          signerIds: (typeof r.signer_ids === 'string' ? (JSON.parse(r.signer_ids) as string[]) : r.signer_ids).map((s) => Buffer.from(s, 'hex')),
          measurementValue: Buffer.from(r.measurement_value, 'hex'),
          status: 'trusted',
        }));
        for (const r of await this.firmware.psaReleases(productId)) {
          const keyRevoked = r.signingKeyStatus === 'revoked';
          refs.push({
            source: `MCUboot release ${r.version}`,
            kind: 'mcuboot',
            implementationId: null,
            measurementType: null,
            version: r.version,
            signerIds: signerIdsOf(r.signingKeyPem),
            measurementValue: Buffer.from(r.digest.replace(/^sha256:/, ''), 'hex'),
            status: r.status === 'revoked' || keyRevoked ? 'revoked' : 'trusted',
            revokedReason: keyRevoked ? 'its signing key is revoked' : r.revokedReason,
            release: { version: r.version, securityCounter: r.securityCounter },
          });
        }
        return refs;
      },
      implementationIds: async (productId) => {
        const rows: Array<{ implementation_id: string }> = await this.ds.query(
          'SELECT DISTINCT implementation_id FROM psa_reference_values WHERE product_id = $1 UNION SELECT DISTINCT implementation_id FROM psa_attest_keys WHERE product_id = $1',
          [productId],
        );
        return rows.map((r) => Buffer.from(r.implementation_id, 'hex'));
      },
    };
  }
}
