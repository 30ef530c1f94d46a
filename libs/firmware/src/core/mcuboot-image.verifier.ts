import { createHash } from 'node:crypto';
import { DomainError } from '@fleetguard/common';
import { ByteSource, feedChunks } from './byte-stream.reader';
import { verifyDigestSignature, verifyPureEd25519 } from './digest-signature.verifier';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import { McubootVerdict, sha256Label } from './firmware.verdict';
import {
  formatMcubootVersion,
  mcubootFlagNames,
  McubootTlv,
  SIGNATURE_TLVS,
  TLV,
  tlvName,
  UNPROTECTED_ALLOWED_TLVS,
} from './mcuboot-image.format';
import { McubootHashAlgorithm, McubootStreamLimits, McubootStreamParser, ParsedMcubootImage } from './mcuboot-image.parser';
import type { SigningKey } from './signing-key';

/**
 * Verifies an MCUboot image fed in chunks: `update()` as bytes arrive (it may refuse early),
 * then `finish(keys)` with the product's trusted keys. The image is hashed once, as it streams;
 * memory stays constant whatever the image size.
 *
 * Checks, in MCUboot's order: header and TLV framing (every length consistent, nothing after the
 * unprotected area), the SHA256 TLV against the computed hash, then each signature TLV against
 * the key its preceding KEYHASH (or PUBKEY) TLV names. One verifying signature by a trusted key
 * suffices (MCUboot multi-signature semantics); the security counter is read only from the
 * protected, signed area.
 */
/** Pure Ed25519 images up to this size are verified (Node verifies Ed25519 over a whole message). */
export const DEFAULT_MAX_PURE_IMAGE_BYTES = 16 * 1024 * 1024;

export interface McubootVerifyOptions extends McubootStreamLimits {
  /**
   * The keys `finish()` will be given, known before the bytes: they decide which image hashes
   * to compute (SHA-384 for P-384 keys, SHA-512 for Ed25519) and whether to keep the signed
   * region for a pure Ed25519 signature. Without them, every hash is computed and the region kept.
   */
  readonly keys?: readonly SigningKey[];
  /** Bound for pure Ed25519 images (default 16 MiB); larger ones are refused with a reason. */
  readonly maxPureImageBytes?: number;
}

/** The extra image hashes a key set can need, by imgtool's pairing of keys and hashes. */
export function hashesForKeys(keys: readonly SigningKey[] | undefined): McubootHashAlgorithm[] {
  if (!keys) return ['sha256', 'sha384', 'sha512'];
  const hashes = new Set<McubootHashAlgorithm>(['sha256']);
  for (const key of keys) {
    if (key.algorithm === 'ES384') hashes.add('sha384');
    if (key.algorithm === 'EdDSA') hashes.add('sha512');
  }
  return [...hashes];
}

function parserLimits(options: McubootVerifyOptions): McubootStreamLimits {
  const { keys, maxPureImageBytes, ...limits } = options;
  const pure = !keys || keys.some((k) => k.algorithm === 'EdDSA');
  return {
    ...limits,
    hashes: limits.hashes ?? hashesForKeys(keys),
    keepSignedRegionBytes: limits.keepSignedRegionBytes ?? (pure ? (maxPureImageBytes ?? DEFAULT_MAX_PURE_IMAGE_BYTES) : 0),
  };
}

export class McubootStreamVerifier {
  private readonly parser: McubootStreamParser;

  constructor(options: McubootVerifyOptions = {}) {
    this.parser = new McubootStreamParser(parserLimits(options));
  }

  get bytesReceived(): number {
    return this.parser.bytesReceived;
  }

  update(chunk: Uint8Array): void {
    this.parser.update(chunk);
  }

  /** May be called again (e.g. with another key set); the bytes are parsed and hashed once. */
  finish(keys: readonly SigningKey[]): McubootVerdict {
    return verifyParsedImage(this.parser.finish(), keys);
  }
}

export async function verifyMcubootStream(
  source: ByteSource,
  keys: readonly SigningKey[],
  limits: McubootStreamLimits = {},
): Promise<McubootVerdict> {
  const verifier = new McubootStreamVerifier({ ...limits, keys });
  await feedChunks(source, (chunk) => verifier.update(chunk));
  return verifier.finish(keys);
}

export function verifyMcubootImage(
  bytes: Uint8Array,
  keys: readonly SigningKey[],
  limits: McubootStreamLimits = {},
): McubootVerdict {
  const verifier = new McubootStreamVerifier({ ...limits, keys });
  verifier.update(bytes);
  return verifier.finish(keys);
}

function verifyParsedImage(image: ParsedMcubootImage, keys: readonly SigningKey[]): McubootVerdict {
  const securityCounter = readSecurityCounter(image.protectedTlvs);
  for (const tlv of image.unprotectedTlvs) {
    if (!UNPROTECTED_ALLOWED_TLVS.has(tlv.type)) {
      throw firmwareError(
        FIRMWARE_ERROR.unprotectedTlv,
        `TLV ${tlvName(tlv.type)} is in the unprotected (unsigned) area; it must be in the protected one`,
      );
    }
  }
  const pure = readSigPure(image.unprotectedTlvs);
  const hash = checkImageHash(image, pure);
  const { keyId: signerKeyId, scheme } = findVerifyingSignature(image, keys, hash, pure);
  return {
    format: 'mcuboot',
    version: formatMcubootVersion(image.header.version),
    securityCounter,
    digest: sha256Label(image.imageHash),
    fileDigest: sha256Label(image.fileHash),
    size: image.size,
    signerKeyId,
    imageHash: hash ? `${hash.algorithm}:${hash.value.toString('hex')}` : sha256Label(image.imageHash),
    signature: scheme,
    flags: mcubootFlagNames(image.header.flags),
    imageBytes: image.imageEnd,
    slotTrailer: image.slotTrailer,
  };
}

/** imgtool `--pure` adds an (unprotected) SIG_PURE TLV of one byte, 0x01. */
function readSigPure(tlvs: readonly McubootTlv[]): boolean {
  const marks = tlvs.filter((t) => t.type === TLV.SIG_PURE);
  if (marks.length > 1) throw firmwareError(FIRMWARE_ERROR.duplicateTlv, 'the image has more than one SIG_PURE TLV');
  if (marks.length === 0) return false;
  if (marks[0].value.length !== 1 || marks[0].value[0] !== 1) {
    throw firmwareError(FIRMWARE_ERROR.badTlv, `a SIG_PURE TLV is one byte, 0x01 (got ${marks[0].value.toString('hex') || 'nothing'})`);
  }
  return true;
}

function readSecurityCounter(tlvs: readonly McubootTlv[]): number | null {
  const counters = tlvs.filter((t) => t.type === TLV.SEC_CNT);
  if (counters.length > 1) throw firmwareError(FIRMWARE_ERROR.duplicateTlv, 'the protected area holds more than one SEC_CNT TLV');
  if (counters.length === 0) return null;
  const value = counters[0].value;
  if (value.length !== 4) throw firmwareError(FIRMWARE_ERROR.badTlv, `a SEC_CNT TLV is 4 bytes, not ${value.length}`);
  return value.readUInt32LE(0);
}

const HASH_TLVS: ReadonlyArray<readonly [number, McubootHashAlgorithm, number]> = [
  [TLV.SHA256, 'sha256', 32],
  [TLV.SHA384, 'sha384', 48],
  [TLV.SHA512, 'sha512', 64],
];

type ImageHash = { algorithm: McubootHashAlgorithm; value: Buffer };

/**
 * The one hash TLV (SHA256, SHA384 or SHA512, as imgtool writes one) against the computed hash
 * of the same algorithm. A pure-signed image may go without one (its signature covers the bytes).
 */
function checkImageHash(image: ParsedMcubootImage, pure: boolean): ImageHash | null {
  const found = image.unprotectedTlvs.filter((t) => HASH_TLVS.some(([type]) => type === t.type));
  if (found.length === 0) {
    if (pure) return null;
    throw firmwareError(FIRMWARE_ERROR.missingHash, 'the image has no SHA256, SHA384 or SHA512 TLV');
  }
  if (found.length > 1) throw firmwareError(FIRMWARE_ERROR.duplicateTlv, 'the image has more than one image hash TLV');
  const [type, algorithm, length] = HASH_TLVS.find(([t]) => t === found[0].type)!;
  const expected = found[0].value;
  const name = tlvName(type);
  if (expected.length !== length) throw firmwareError(FIRMWARE_ERROR.badTlv, `the ${name} TLV is ${expected.length} bytes, not ${length}`);
  const computed = image.imageHashes[algorithm];
  if (!computed) {
    throw firmwareError(
      FIRMWARE_ERROR.unsupportedHash,
      `the image is hashed with ${name}, which none of the trusted keys signs (P-384 keys sign SHA-384 images, Ed25519 keys SHA-256 or SHA-512 ones)`,
    );
  }
  if (!expected.equals(computed)) {
    throw firmwareError(
      FIRMWARE_ERROR.hashMismatch,
      `the image hashes to ${computed.toString('hex')} but its ${name} TLV says ${expected.toString('hex')}`,
    );
  }
  return { algorithm, value: computed };
}

type KeyReference = { key: SigningKey | null; described: string };

function resolveKeyReference(tlv: McubootTlv, keys: readonly SigningKey[]): KeyReference {
  if (tlv.type === TLV.KEYHASH) {
    // imgtool hashes the public key with the image's hash algorithm: 32, 48 or 64 bytes.
    const algorithm = HASH_TLVS.find(([, , length]) => length === tlv.value.length)?.[1];
    if (!algorithm) throw firmwareError(FIRMWARE_ERROR.badTlv, `a KEYHASH TLV is 32, 48 or 64 bytes, not ${tlv.value.length}`);
    const hash = tlv.value.toString('hex');
    const matches = (k: SigningKey) =>
      algorithm === 'sha256'
        ? k.mcubootKeyHashes.includes(hash)
        : k.mcubootKeyForms.some((form) => createHash(algorithm).update(form).digest().equals(tlv.value));
    return { key: keys.find(matches) ?? null, described: `key hash ${hash}` };
  }
  return {
    key: keys.find((k) => k.mcubootKeyForms.some((form) => form.equals(tlv.value))) ?? null,
    described: 'an embedded public key',
  };
}

/** Returns the key id of the first trusted key whose signature verifies, or throws why none does. */
function findVerifyingSignature(
  image: ParsedMcubootImage,
  keys: readonly SigningKey[],
  hash: ImageHash | null,
  pure: boolean,
): { keyId: string; scheme: string } {
  let pending: KeyReference | null = null;
  let signatures = 0;
  const unknown: string[] = [];
  let failure: DomainError | null = null;
  for (const tlv of image.unprotectedTlvs) {
    if (tlv.type === TLV.KEYHASH || tlv.type === TLV.PUBKEY) {
      pending = resolveKeyReference(tlv, keys);
      continue;
    }
    if (!SIGNATURE_TLVS.has(tlv.type)) continue;
    signatures++;
    const reference = pending;
    pending = null;
    if (!reference?.key) {
      unknown.push(reference ? reference.described : `a ${tlvName(tlv.type)} signature without a KEYHASH TLV before it`);
      continue;
    }
    if (tlv.type === TLV.ECDSA224) {
      failure ??= firmwareError(FIRMWARE_ERROR.unsupportedSignature, `signature type ${tlvName(tlv.type)} is not supported`);
      continue;
    }
    if (pure) {
      if (tlv.type !== TLV.ED25519) {
        failure ??= firmwareError(FIRMWARE_ERROR.unsupportedSignature, `a pure image is signed with Ed25519 only, not ${tlvName(tlv.type)}`);
        continue;
      }
      if (!image.signedRegion) {
        failure ??= firmwareError(
          FIRMWARE_ERROR.unsupportedSignature,
          `pure Ed25519 signatures are checked on images of up to ${DEFAULT_MAX_PURE_IMAGE_BYTES} bytes here (Ed25519 verifies a whole message); this one is bigger`,
        );
        continue;
      }
      const check = verifyPureEd25519(reference.key, image.signedRegion, tlv.value);
      if (check.ok) return { keyId: reference.key.keyId, scheme: 'ed25519-pure' };
      failure ??= firmwareError(FIRMWARE_ERROR.badSignature, `${check.reason} (key ${reference.key.keyId})`);
      continue;
    }
    const check = verifyDigestSignature(reference.key, tlv.type, hash!.value, tlv.value);
    if (check.ok) return { keyId: reference.key.keyId, scheme: signatureScheme(reference.key, hash!.algorithm) };
    failure ??= firmwareError(FIRMWARE_ERROR.badSignature, `${check.reason} (key ${reference.key.keyId})`);
  }
  if (failure) throw failure;
  if (signatures === 0) throw firmwareError(FIRMWARE_ERROR.noSignature, 'the image carries no signature TLV');
  throw firmwareError(
    FIRMWARE_ERROR.unknownKey,
    `no trusted signing key matches the image's signer: ${unknown.join('; ')}`,
    'invalid',
    { keyReferences: unknown },
  );
}

function signatureScheme(key: SigningKey, hash: McubootHashAlgorithm): string {
  const curve = key.algorithm === 'ES256' ? 'ecdsa-p256' : key.algorithm === 'ES384' ? 'ecdsa-p384' : key.algorithm === 'EdDSA' ? 'ed25519' : `rsa${key.modulusBits}-pss`;
  return `${curve}-${hash}`;
}
