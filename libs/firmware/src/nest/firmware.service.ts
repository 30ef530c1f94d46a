import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { returningRows } from '@fleetguard/persistence';
import { DataSource } from 'typeorm';
import { DomainError, conflict, invalid, notFound } from '@fleetguard/common';
import type { Principal } from '@fleetguard/auth/nest';
import { ProductsService } from '@fleetguard/fleet/nest';
import { FirmwareVerdict, McubootVerdict } from '../core/firmware.verdict';
import { McubootStreamVerifier } from '../core/mcuboot-image.verifier';
import { DetachedImageStreamVerifier, verifyManifest } from '../core/firmware-manifest.verifier';
import { SigningKey, signingKeyFromPem } from '../core/signing-key';
import { looksLikeIntelHex, MAX_INTEL_HEX_CHARS, readIntelHex } from '../core/intel-hex.reader';
import { checkReleasePolicy } from '../core/release.policy';
import { FirmwareReleaseEntity, ReferenceValues } from '../entities/firmware-release.entity';
import { SigningKeyEntity } from '../entities/signing-key.entity';

const MCUBOOT_MAGIC_LE = Buffer.from([0x3d, 0xb8, 0xf3, 0x96]);
export const MAX_IMAGE_BYTES = 4 * 1024 ** 3;

/** A release as attestation needs it. */
export interface ReleaseLookup {
  digest: string;
  securityCounter: number;
  status: 'trusted' | 'revoked';
  referenceValues?: ReferenceValues;
}

/** An MCUboot release as PSA attestation needs it (SPEC "Reference values and policies"). */
export interface PsaReleaseLookup {
  version: string;
  /** `sha256:<hex>` image hash. */
  digest: string;
  securityCounter: number;
  status: 'trusted' | 'revoked';
  revokedReason: string | null;
  signingKeyPem: string;
  signingKeyStatus: 'active' | 'revoked';
}

@Injectable()
export class FirmwareService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly products: ProductsService,
  ) {}

  async addSigningKey(p: Principal, productId: string, pem: string): Promise<SigningKeyEntity> {
    await this.products.getOwned(p, productId);
    const key = signingKeyFromPem(pem);
    const repo = this.ds.getRepository(SigningKeyEntity);
    const existing = await repo.findOne({ where: { productId, keyId: key.keyId } });
    if (existing) {
      if (existing.status === 'revoked') throw conflict('signing-key.revoked', `key ${key.keyId} was revoked for this product and cannot be added again`);
      return existing;
    }
    return repo.save(repo.create({ productId, keyId: key.keyId, algorithm: key.algorithm, publicKeyPem: key.keyObject.export({ type: 'spki', format: 'pem' }).toString(), status: 'active', revokedAt: null }));
  }

  async listSigningKeys(p: Principal, productId: string): Promise<SigningKeyEntity[]> {
    await this.products.getOwned(p, productId);
    return this.ds.getRepository(SigningKeyEntity).find({ where: { productId }, order: { createdAt: 'ASC' } });
  }

  /** Revokes a key; every release it signed becomes untrusted. */
  async revokeSigningKey(p: Principal, productId: string, keyId: string): Promise<{ keyId: string; releasesRevoked: string[] }> {
    await this.products.getOwned(p, productId);
    return this.ds.transaction(async (m) => {
      const res = await m.getRepository(SigningKeyEntity).update({ productId, keyId: keyId.toLowerCase(), status: 'active' }, { status: 'revoked', revokedAt: new Date() });
      if (!res.affected) throw notFound('signing-key.not-found', `no active signing key ${keyId} for this product`);
      const rows = await m.query(
        `UPDATE firmware_releases SET status = 'revoked', revoked_reason = 'signing key revoked' WHERE product_id = $1 AND signer_key_id = $2 AND status = 'trusted' RETURNING version`,
        [productId, keyId.toLowerCase()],
      );
      return { keyId: keyId.toLowerCase(), releasesRevoked: returningRows<{ version: string }>(rows).map((r) => r.version) };
    });
  }

  /**
   * Verifies an uploaded image as it streams (MCUboot by its magic, else the detached manifest
   * given in the header) and records the release. Nothing is recorded unless every check passes.
   */
  async uploadRelease(p: Principal, productId: string, body: AsyncIterable<Uint8Array>, manifestJws?: string): Promise<{ release: FirmwareReleaseEntity; verdict: FirmwareVerdict }> {
    const product = await this.products.getOwned(p, productId);
    const keyRows = await this.ds.getRepository(SigningKeyEntity).find({ where: { productId } });
    if (!keyRows.length) throw invalid('firmware.no-signing-keys', 'this product has no signing keys: add one first (POST /api/v1/products/:id/signing-keys)');
    const keys: SigningKey[] = keyRows.map((k) => signingKeyFromPem(k.publicKeyPem));
    const verdict = await this.verifyStream(body, keys, product, manifestJws);
    const signer = keyRows.find((k) => k.keyId === verdict.signerKeyId)!;
    if (signer.status === 'revoked') throw invalid('firmware.key-revoked', `the image is signed by key ${signer.keyId}, which was revoked`);
    checkReleasePolicy(verdict, { minSecurityCounter: product.minSecurityCounter });
    const repo = this.ds.getRepository(FirmwareReleaseEntity);
    if (await repo.findOne({ where: { productId, version: verdict.version } })) {
      throw conflict('firmware.version-exists', `release ${verdict.version} exists already for this product`);
    }
    const release = await repo.save(
      repo.create({
        productId,
        version: verdict.version,
        format: verdict.format,
        securityCounter: verdict.securityCounter!,
        digest: verdict.digest,
        size: verdict.size,
        signerKeyId: verdict.signerKeyId,
        status: 'trusted',
        revokedReason: null,
        referenceValues: null,
      }),
    );
    return { release, verdict };
  }

  /** A manifest names its product by the product's id or by its name (a manufacturer's own product code). */
  private async checkManifest(jws: string, keys: SigningKey[], product: { id: string; name: string }) {
    try {
      return await verifyManifest(jws, keys, product.id);
    } catch (e) {
      if (e instanceof DomainError && e.code === 'manifest.product-mismatch') return verifyManifest(jws, keys, product.name);
      throw e;
    }
  }

  private async verifyStream(body: AsyncIterable<Uint8Array>, keys: SigningKey[], product: { id: string; name: string }, manifestJws?: string): Promise<FirmwareVerdict> {
    const manifest = manifestJws ? await this.checkManifest(manifestJws.trim(), keys, product) : undefined;
    let mcuboot: McubootStreamVerifier | undefined;
    let detached: DetachedImageStreamVerifier | undefined;
    let hex: Buffer[] | undefined;
    let head = Buffer.alloc(0);
    let total = 0;
    const decide = () => {
      if (!manifest && looksLikeIntelHex(head)) {
        // Intel HEX (imgtool's .hex output): text, read whole (bounded), then verified as the binary it describes.
        hex = [head];
        head = Buffer.alloc(0);
        return;
      }
      if (head.subarray(0, 4).equals(MCUBOOT_MAGIC_LE) && !manifest) mcuboot = new McubootStreamVerifier({ keys });
      else if (manifest) detached = new DetachedImageStreamVerifier(manifest);
      else throw invalid('firmware.unsigned', 'the image is not an MCUboot image (no 0x96f3b83d magic) and no X-Firmware-Manifest header was sent');
      const first = head;
      head = Buffer.alloc(0);
      (mcuboot ?? detached)!.update(first);
    };
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      total += buf.length;
      if (total > MAX_IMAGE_BYTES) throw new DomainError('firmware.too-large', `images are limited to ${MAX_IMAGE_BYTES} bytes`, 'too-large');
      if (hex) {
        if (total > MAX_INTEL_HEX_CHARS) throw new DomainError('firmware.too-large', `Intel HEX uploads are limited to ${MAX_INTEL_HEX_CHARS} bytes`, 'too-large');
        hex.push(buf);
      } else if (!mcuboot && !detached) {
        head = Buffer.concat([head, buf]);
        if (head.length >= 4) decide();
      } else (mcuboot ?? detached)!.update(buf);
    }
    if (!mcuboot && !detached && !hex) {
      if (!head.length) throw invalid('firmware.empty', 'the request body is empty: send the image bytes');
      decide();
    }
    if (hex) {
      const image = readIntelHex(Buffer.concat(hex).toString('latin1'));
      if (!image.bytes.subarray(0, 4).equals(MCUBOOT_MAGIC_LE)) {
        throw invalid('firmware.unsigned', 'the Intel HEX file does not hold an MCUboot image (no 0x96f3b83d magic at its first address)');
      }
      mcuboot = new McubootStreamVerifier({ keys });
      mcuboot.update(image.bytes);
    }
    return mcuboot ? mcuboot.finish(keys) : detached!.finish();
  }

  async listReleases(p: Principal, productId: string): Promise<FirmwareReleaseEntity[]> {
    await this.products.get(p, productId);
    return this.ds.getRepository(FirmwareReleaseEntity).find({ where: { productId }, order: { createdAt: 'ASC' } });
  }

  async revokeRelease(p: Principal, productId: string, version: string, reason?: string): Promise<FirmwareReleaseEntity> {
    await this.products.getOwned(p, productId);
    const repo = this.ds.getRepository(FirmwareReleaseEntity);
    const release = await repo.findOne({ where: { productId, version } });
    if (!release) throw notFound('firmware.not-found', `no release ${version} for this product`);
    release.status = 'revoked';
    release.revokedReason = reason ?? 'revoked by the manufacturer';
    return repo.save(release);
  }

  async setReferenceValues(p: Principal, productId: string, version: string, values: ReferenceValues): Promise<FirmwareReleaseEntity> {
    await this.products.getOwned(p, productId);
    for (const [k, v] of Object.entries(values.pcrs ?? {})) {
      if (!/^([0-9]|1[0-9]|2[0-3])$/.test(k) || typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) {
        throw invalid('firmware.bad-reference-pcrs', `pcrs must map PCR numbers 0..23 to 64 lowercase hex digits (bad entry '${k}')`);
      }
    }
    const repo = this.ds.getRepository(FirmwareReleaseEntity);
    const release = await repo.findOne({ where: { productId, version } });
    if (!release) throw notFound('firmware.not-found', `no release ${version} for this product`);
    release.referenceValues = {
      events: values.events.map((e) => ({ pcr: e.pcr, component: e.component, digest: e.digest.replace(/^sha256:/, '') })),
      ...(values.pcrs ? { pcrs: values.pcrs } : {}),
    };
    return repo.save(release);
  }

  /**
   * For PSA attestation: every MCUboot release of a product with its signing key, trusted or
   * revoked (a revoked one makes a device that reports it contraindicated, so it is not hidden).
   */
  async psaReleases(productId: string): Promise<PsaReleaseLookup[]> {
    const rows: Array<{ version: string; digest: string; security_counter: number; status: 'trusted' | 'revoked'; revoked_reason: string | null; public_key_pem: string; key_status: 'active' | 'revoked' }> = await this.ds.query(
      `SELECT r.version, r.digest, r.security_counter, r.status, r.revoked_reason, k.public_key_pem, k.status AS key_status
       FROM firmware_releases r JOIN signing_keys k ON k.product_id = r.product_id AND k.key_id = r.signer_key_id
       WHERE r.product_id = $1 AND r.format = 'mcuboot'`,
      [productId],
    );
    return rows.map((r) => ({ version: r.version, digest: r.digest, securityCounter: r.security_counter, status: r.status, revokedReason: r.revoked_reason, signingKeyPem: r.public_key_pem, signingKeyStatus: r.key_status }));
  }

  /** The product's active signing keys (PEM): they also sign the manufacturer's CoRIMs. */
  async activeSigningKeyPems(productId: string): Promise<string[]> {
    const rows: Array<{ public_key_pem: string }> = await this.ds.query(`SELECT public_key_pem FROM signing_keys WHERE product_id = $1 AND status = 'active'`, [productId]);
    return rows.map((r) => r.public_key_pem);
  }

  /** For attestation: a product's release by version, or null. */
  async findRelease(productId: string, version: string): Promise<ReleaseLookup | null> {
    const r = await this.ds.getRepository(FirmwareReleaseEntity).findOne({ where: { productId, version } });
    if (!r) return null;
    return { digest: r.digest, securityCounter: r.securityCounter, status: r.status, ...(r.referenceValues ? { referenceValues: r.referenceValues } : {}) };
  }
}

/** What the upload shows of the image beyond the release: the MCUboot details (not stored). */
export function toImageView(verdict: FirmwareVerdict) {
  if (verdict.format !== 'mcuboot') return { format: verdict.format, fileDigest: verdict.fileDigest };
  const v = verdict as McubootVerdict;
  return { format: v.format, fileDigest: v.fileDigest, imageHash: v.imageHash, signature: v.signature, flags: v.flags, imageBytes: v.imageBytes, slotTrailer: v.slotTrailer };
}

export function toReleaseView(r: FirmwareReleaseEntity) {
  return {
    version: r.version,
    format: r.format,
    securityCounter: r.securityCounter,
    digest: r.digest,
    size: r.size,
    signerKeyId: r.signerKeyId,
    status: r.status,
    revokedReason: r.revokedReason,
    referenceValues: r.referenceValues,
    createdAt: r.createdAt,
  };
}
