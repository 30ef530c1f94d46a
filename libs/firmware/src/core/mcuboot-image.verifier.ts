import { DomainError } from '@fleetguard/common';
import { ByteSource, feedChunks } from './byte-stream.reader';
import { verifyDigestSignature } from './digest-signature.verifier';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import { McubootVerdict, sha256Label } from './firmware.verdict';
import {
  formatMcubootVersion,
  McubootTlv,
  SIGNATURE_TLVS,
  TLV,
  tlvName,
  UNPROTECTED_ALLOWED_TLVS,
} from './mcuboot-image.format';
import { McubootStreamLimits, McubootStreamParser, ParsedMcubootImage } from './mcuboot-image.parser';
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
export class McubootStreamVerifier {
  private readonly parser: McubootStreamParser;

  constructor(limits: McubootStreamLimits = {}) {
    this.parser = new McubootStreamParser(limits);
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
  const verifier = new McubootStreamVerifier(limits);
  await feedChunks(source, (chunk) => verifier.update(chunk));
  return verifier.finish(keys);
}

export function verifyMcubootImage(
  bytes: Uint8Array,
  keys: readonly SigningKey[],
  limits: McubootStreamLimits = {},
): McubootVerdict {
  const verifier = new McubootStreamVerifier(limits);
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
  checkImageHash(image);
  const signerKeyId = findVerifyingSignature(image, keys);
  return {
    format: 'mcuboot',
    version: formatMcubootVersion(image.header.version),
    securityCounter,
    digest: sha256Label(image.imageHash),
    fileDigest: sha256Label(image.fileHash),
    size: image.size,
    signerKeyId,
  };
}

function readSecurityCounter(tlvs: readonly McubootTlv[]): number | null {
  const counters = tlvs.filter((t) => t.type === TLV.SEC_CNT);
  if (counters.length > 1) throw firmwareError(FIRMWARE_ERROR.duplicateTlv, 'the protected area holds more than one SEC_CNT TLV');
  if (counters.length === 0) return null;
  const value = counters[0].value;
  if (value.length !== 4) throw firmwareError(FIRMWARE_ERROR.badTlv, `a SEC_CNT TLV is 4 bytes, not ${value.length}`);
  return value.readUInt32LE(0);
}

function checkImageHash(image: ParsedMcubootImage): void {
  const hashes = image.unprotectedTlvs.filter((t) => t.type === TLV.SHA256);
  const others = image.unprotectedTlvs.filter((t) => t.type === TLV.SHA384 || t.type === TLV.SHA512);
  if (others.length > 0) {
    throw firmwareError(
      FIRMWARE_ERROR.unsupportedHash,
      `the image is hashed with ${tlvName(others[0].type)}; only SHA-256 MCUboot images are accepted`,
    );
  }
  if (hashes.length === 0) throw firmwareError(FIRMWARE_ERROR.missingHash, 'the image has no SHA256 TLV');
  if (hashes.length > 1) throw firmwareError(FIRMWARE_ERROR.duplicateTlv, 'the image has more than one SHA256 TLV');
  const expected = hashes[0].value;
  if (expected.length !== 32) throw firmwareError(FIRMWARE_ERROR.badTlv, `the SHA256 TLV is ${expected.length} bytes, not 32`);
  if (!expected.equals(image.imageHash)) {
    throw firmwareError(
      FIRMWARE_ERROR.hashMismatch,
      `the image hashes to ${image.imageHash.toString('hex')} but its SHA256 TLV says ${expected.toString('hex')}`,
    );
  }
}

type KeyReference = { key: SigningKey | null; described: string };

function resolveKeyReference(tlv: McubootTlv, keys: readonly SigningKey[]): KeyReference {
  if (tlv.type === TLV.KEYHASH) {
    if (tlv.value.length !== 32) throw firmwareError(FIRMWARE_ERROR.badTlv, `a KEYHASH TLV is 32 bytes, not ${tlv.value.length}`);
    const hash = tlv.value.toString('hex');
    return { key: keys.find((k) => k.mcubootKeyHashes.includes(hash)) ?? null, described: `key hash ${hash}` };
  }
  return {
    key: keys.find((k) => k.mcubootKeyForms.some((form) => form.equals(tlv.value))) ?? null,
    described: 'an embedded public key',
  };
}

/** Returns the key id of the first trusted key whose signature verifies, or throws why none does. */
function findVerifyingSignature(image: ParsedMcubootImage, keys: readonly SigningKey[]): string {
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
    if (tlv.type === TLV.ECDSA224 || tlv.type === TLV.SIG_PURE) {
      failure ??= firmwareError(FIRMWARE_ERROR.unsupportedSignature, `signature type ${tlvName(tlv.type)} is not supported`);
      continue;
    }
    const check = verifyDigestSignature(reference.key, tlv.type, image.imageHash, tlv.value);
    if (check.ok) return reference.key.keyId;
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
