import { createHash, Hash } from 'node:crypto';
import { DomainError, isDomainError } from '@fleetguard/common';
import { compactVerify, decodeProtectedHeader, ProtectedHeaderParameters } from 'jose';
import { ByteSource, feedChunks } from './byte-stream.reader';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import { FirmwareManifest, parseManifestPayload } from './firmware-manifest.schema';
import { DetachedVerdict, sha256Label } from './firmware.verdict';
import type { SigningKey } from './signing-key';

declare const verifiedManifest: unique symbol;

/**
 * A manifest whose signature verified with a trusted key and whose payload is well-formed. Only
 * `verifyManifest` makes one (the brand keeps a raw payload from being passed off as verified).
 */
export type VerifiedManifest = FirmwareManifest & {
  readonly signerKeyId: string;
  readonly algorithm: ManifestAlgorithm;
  readonly [verifiedManifest]: true;
};

export type ManifestAlgorithm = 'ES256' | 'EdDSA';

export const MAX_MANIFEST_LENGTH = 16 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** JOSE names: `EdDSA` (RFC 8037) and the fully specified `Ed25519` (RFC 9864) are the same here. */
const ALGORITHMS: Readonly<Record<string, ManifestAlgorithm>> = { ES256: 'ES256', EdDSA: 'EdDSA', Ed25519: 'EdDSA' };

/**
 * Verifies a detached manifest (compact JWS) with the product's trusted keys. The key is the one
 * whose key id equals the protected header's `kid` when there is one; without a `kid`, every
 * trusted key of the header's algorithm is tried. Then the payload is validated strictly and its
 * productId must be `expectedProductId`.
 */
export async function verifyManifest(
  jws: string,
  keys: readonly SigningKey[],
  expectedProductId: string,
): Promise<VerifiedManifest> {
  const compact = readCompact(jws);
  const header = readHeader(compact);
  const algorithm = ALGORITHMS[header.alg as string];
  let chosen: SigningKey[];
  if (header.kid !== undefined) {
    if (typeof header.kid !== 'string') throw firmwareError(FIRMWARE_ERROR.manifestMalformed, 'the manifest header "kid" is not a string');
    const kid = header.kid.toLowerCase();
    const named = keys.find((k) => k.keyId === kid);
    if (!named) throw firmwareError(FIRMWARE_ERROR.manifestUnknownKey, `the manifest is signed by key ${header.kid}, which is not a trusted key`);
    if (named.algorithm !== algorithm) {
      throw firmwareError(
        FIRMWARE_ERROR.manifestBadSignature,
        `the manifest says ${String(header.alg)} but key ${named.keyId} is an ${named.algorithm} key`,
      );
    }
    chosen = [named];
  } else {
    chosen = keys.filter((k) => k.algorithm === algorithm);
    if (chosen.length === 0) {
      throw firmwareError(FIRMWARE_ERROR.manifestUnknownKey, `no trusted ${algorithm} key to check the manifest with`);
    }
  }

  for (const key of chosen) {
    const payload = await verifyWith(compact, key, header.alg as string);
    if (!payload) continue;
    const manifest = parseManifestPayload(readJson(payload));
    if (manifest.productId !== expectedProductId) {
      throw firmwareError(
        FIRMWARE_ERROR.manifestProductMismatch,
        `the manifest is for product ${manifest.productId}, not ${expectedProductId}`,
      );
    }
    return { ...manifest, signerKeyId: key.keyId, algorithm } as VerifiedManifest;
  }
  throw firmwareError(
    FIRMWARE_ERROR.manifestBadSignature,
    header.kid !== undefined
      ? `the manifest signature does not verify with key ${chosen[0].keyId}`
      : `the manifest signature verifies with none of the ${chosen.length} trusted ${algorithm} key(s)`,
  );
}

function readCompact(jws: unknown): string {
  if (typeof jws !== 'string') throw firmwareError(FIRMWARE_ERROR.manifestMalformed, 'the manifest must be a compact JWS string');
  if (jws.length > MAX_MANIFEST_LENGTH) {
    throw firmwareError(FIRMWARE_ERROR.manifestTooLarge, `the manifest is longer than ${MAX_MANIFEST_LENGTH} characters`, 'too-large');
  }
  const compact = jws.trim();
  if (!COMPACT_JWS.test(compact)) {
    throw firmwareError(FIRMWARE_ERROR.manifestMalformed, 'the manifest is not a compact JWS (three base64url parts joined by dots)');
  }
  return compact;
}

function readHeader(compact: string): ProtectedHeaderParameters {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(compact);
  } catch {
    throw firmwareError(FIRMWARE_ERROR.manifestMalformed, 'the manifest protected header is not base64url JSON');
  }
  if (typeof header.alg !== 'string' || !Object.prototype.hasOwnProperty.call(ALGORITHMS, header.alg)) {
    throw firmwareError(
      FIRMWARE_ERROR.manifestUnsupportedAlgorithm,
      `manifest algorithm ${JSON.stringify(header.alg ?? null)} is not accepted: use ES256 or EdDSA`,
    );
  }
  if (header.b64 !== undefined && header.b64 !== true) {
    throw firmwareError(FIRMWARE_ERROR.manifestUnsupportedAlgorithm, 'unencoded-payload manifests ("b64": false) are not accepted');
  }
  return header;
}

/** The payload if the signature verifies with `key`, null if it does not; other JOSE refusals throw. */
async function verifyWith(compact: string, key: SigningKey, alg: string): Promise<Uint8Array | null> {
  try {
    const { payload } = await compactVerify(compact, key.keyObject, { algorithms: [alg] });
    return payload;
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return null;
    if (code === 'ERR_JOSE_NOT_SUPPORTED' || code === 'ERR_JOSE_ALG_NOT_ALLOWED') {
      throw firmwareError(FIRMWARE_ERROR.manifestUnsupportedAlgorithm, `the manifest uses an unsupported JOSE feature: ${(e as Error).message}`);
    }
    if (typeof code === 'string' && code.startsWith('ERR_J')) {
      throw firmwareError(FIRMWARE_ERROR.manifestMalformed, `the manifest is not a valid JWS: ${(e as Error).message}`);
    }
    throw e;
  }
}

function readJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw firmwareError(FIRMWARE_ERROR.manifestBadPayload, 'the manifest payload is not UTF-8 JSON');
  }
}

/**
 * Hashes a detached image as it streams and compares it with its verified manifest. Refuses as
 * soon as more bytes arrive than the manifest's size; memory is constant.
 */
export class DetachedImageStreamVerifier {
  private readonly hash: Hash = createHash('sha256');
  private received = 0;
  private failure: DomainError | null = null;
  private verdict: DetachedVerdict | null = null;

  constructor(private readonly manifest: VerifiedManifest) {}

  get bytesReceived(): number {
    return this.received;
  }

  update(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.verdict) throw new Error('DetachedImageStreamVerifier.update() called after finish()');
    this.received += chunk.byteLength;
    if (this.received > this.manifest.size) {
      this.failure = firmwareError(
        FIRMWARE_ERROR.manifestSizeMismatch,
        `the image is longer than the ${this.manifest.size} bytes its manifest states`,
      );
      throw this.failure;
    }
    this.hash.update(chunk);
  }

  finish(): DetachedVerdict {
    if (this.failure) throw this.failure;
    if (this.verdict) return this.verdict;
    try {
      this.verdict = this.complete();
      return this.verdict;
    } catch (e) {
      if (isDomainError(e)) this.failure = e;
      throw e;
    }
  }

  private complete(): DetachedVerdict {
    if (this.received !== this.manifest.size) {
      throw firmwareError(
        FIRMWARE_ERROR.manifestSizeMismatch,
        `the image is ${this.received} bytes, its manifest states ${this.manifest.size}`,
      );
    }
    const digest = sha256Label(this.hash.digest());
    if (digest !== this.manifest.digest) {
      throw firmwareError(
        FIRMWARE_ERROR.manifestDigestMismatch,
        `the image hashes to ${digest}, its manifest states ${this.manifest.digest}`,
      );
    }
    return {
      format: 'detached',
      version: this.manifest.version,
      securityCounter: this.manifest.securityCounter,
      digest,
      fileDigest: digest,
      size: this.received,
      signerKeyId: this.manifest.signerKeyId,
    };
  }
}

export async function verifyDetachedImageStream(source: ByteSource, manifest: VerifiedManifest): Promise<DetachedVerdict> {
  const verifier = new DetachedImageStreamVerifier(manifest);
  await feedChunks(source, (chunk) => verifier.update(chunk));
  return verifier.finish();
}

export function verifyDetachedImage(bytes: Uint8Array, manifest: VerifiedManifest): DetachedVerdict {
  const verifier = new DetachedImageStreamVerifier(manifest);
  verifier.update(bytes);
  return verifier.finish();
}
