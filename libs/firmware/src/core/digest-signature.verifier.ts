import { constants, KeyObject, publicDecrypt, verify } from 'node:crypto';
import type { SigningKey } from './signing-key';
import { TLV, tlvName } from './mcuboot-image.format';

/**
 * Signature checks over an already computed image digest, as MCUboot signs: the image is hashed
 * once, by the stream parser, and the signature is checked against that hash (SHA-256; SHA-384
 * for P-384 keys; SHA-256 or SHA-512 for Ed25519, imgtool `--sha 512`).
 *
 * - Ed25519 signs the hash (32 or 64 bytes) as its message: Node's `crypto.verify(null, ...)`.
 *   A pure Ed25519 signature (imgtool `--pure`) is over the image itself: see `verifyPureEd25519`.
 * - ECDSA P-256 / P-384 sign the hash as a prehashed digest. Node (OpenSSL's EVP_DigestVerify) always
 *   hashes its input again and offers no raw-digest verify, so this uses @noble/curves' p256 / p384 with
 *   `prehash: false`, `format: 'der'` and `lowS: false` (OpenSSL does not normalise S).
 * - RSA-PSS (MGF1-SHA-256, salt 32) over the hash: Node has no raw-digest PSS verify either. The
 *   RSA public operation is OpenSSL's (`publicDecrypt` with RSA_NO_PADDING, which also checks the
 *   signature is below the modulus), and the EMSA-PSS-VERIFY decoding of RFC 8017 9.1.2 is
 *   node-forge's `pss.verify`, already a project dependency. No padding code is written here.
 *
 * Both libraries are loaded on first use only (see `loadCurve`).
 */
export type DigestSignatureCheck = { ok: true } | { ok: false; reason: string };

const SHA256_LENGTH = 32;
const DIGEST_LENGTHS: ReadonlySet<number> = new Set([32, 48, 64]);
const PSS_SALT_LENGTH = 32;

export function verifyDigestSignature(
  key: SigningKey,
  tlvType: number,
  digest: Buffer,
  signature: Buffer,
): DigestSignatureCheck {
  if (!DIGEST_LENGTHS.has(digest.length)) return { ok: false, reason: `a ${digest.length}-byte digest is none of SHA-256/384/512` };
  switch (tlvType) {
    case TLV.ECDSA_SIG:
      // imgtool pairs P-256 with SHA-256 and P-384 with SHA-384 (bootutil: the same).
      if (key.algorithm === 'ES256' && digest.length === 32) return verifyEcdsa('P-256', key.keyObject, digest, signature);
      if (key.algorithm === 'ES384' && digest.length === 48) return verifyEcdsa('P-384', key.keyObject, digest, signature);
      if (key.algorithm === 'ES256' || key.algorithm === 'ES384') {
        return { ok: false, reason: `an ${key.algorithm} key signs ${key.algorithm === 'ES256' ? 'SHA-256' : 'SHA-384'} images, this one has a ${digest.length * 8}-bit hash` };
      }
      return mismatch(key, tlvType);
    case TLV.ED25519:
      if (key.algorithm !== 'EdDSA') return mismatch(key, tlvType);
      if (signature.length !== 64) return { ok: false, reason: `an Ed25519 signature is 64 bytes, not ${signature.length}` };
      return verify(null, digest, key.keyObject, signature) ? { ok: true } : { ok: false, reason: 'the Ed25519 signature does not verify' };
    case TLV.RSA2048_PSS:
    case TLV.RSA3072_PSS: {
      const bits = tlvType === TLV.RSA2048_PSS ? 2048 : 3072;
      if (key.algorithm !== 'RSA-PSS' || key.modulusBits !== bits) return mismatch(key, tlvType);
      if (digest.length !== SHA256_LENGTH) return { ok: false, reason: 'RSA-PSS MCUboot signatures are over SHA-256 hashes only' };
      return verifyRsaPss(key.keyObject, bits, digest, signature);
    }
    default:
      return { ok: false, reason: `signature type ${tlvName(tlvType)} is not supported` };
  }
}

function mismatch(key: SigningKey, tlvType: number): DigestSignatureCheck {
  const size = key.modulusBits ? ` ${key.modulusBits}-bit` : '';
  return { ok: false, reason: `a ${tlvName(tlvType)} signature cannot come from the${size} ${key.algorithm} key ${key.keyId}` };
}

/** Pure Ed25519 (imgtool `--pure`, SIG_PURE TLV): the signature is over header + body + protected TLVs. */
export function verifyPureEd25519(key: SigningKey, signedRegion: Buffer, signature: Buffer): DigestSignatureCheck {
  if (key.algorithm !== 'EdDSA') return { ok: false, reason: `a pure signature is Ed25519; key ${key.keyId} is an ${key.algorithm} key` };
  if (signature.length !== 64) return { ok: false, reason: `an Ed25519 signature is 64 bytes, not ${signature.length}` };
  return verify(null, signedRegion, key.keyObject, signature) ? { ok: true } : { ok: false, reason: 'the pure Ed25519 signature does not verify' };
}

// --- ECDSA P-256 / P-384 -----------------------------------------------------------------------

type NobleCurve = {
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, opts: Record<string, unknown>): boolean;
};
let curves: { p256: NobleCurve; p384: NobleCurve } | undefined;

/**
 * @noble/curves 2.x is ESM only. Node 20.19+ `require()`s it natively, so the built service just
 * works; jest (in this repo's config) does not transform it, so loading it lazily keeps every
 * suite that merely imports this lib working, and suites that verify ECDSA supply it (see
 * testing/noble.jest-environment.cjs) until `@noble` joins jest's transformIgnorePatterns.
 */
function loadCurve(name: 'P-256' | 'P-384'): NobleCurve {
  curves ??= require('@noble/curves/nist.js') as { p256: NobleCurve; p384: NobleCurve };
  return name === 'P-256' ? curves.p256 : curves.p384;
}

const ecPoints = new WeakMap<KeyObject, Uint8Array>();

function uncompressedPoint(key: KeyObject): Uint8Array {
  let point = ecPoints.get(key);
  if (!point) {
    const jwk = key.export({ format: 'jwk' });
    point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
    ecPoints.set(key, point);
  }
  return point;
}

/**
 * Older imgtool (`--pad-sig`) pads DER ECDSA signatures with zeros to a fixed length (72 for P-256); MCUboot
 * ignores the padding, so do we. Only the outer SEQUENCE's short-form length is read.
 */
function stripSignaturePadding(signature: Buffer): Buffer {
  if (signature.length < 2 || signature[0] !== 0x30 || signature[1] >= 0x80) return signature;
  const end = 2 + signature[1];
  if (end >= signature.length) return signature;
  for (let i = end; i < signature.length; i++) if (signature[i] !== 0) return signature;
  return signature.subarray(0, end);
}

function verifyEcdsa(name: 'P-256' | 'P-384', key: KeyObject, digest: Buffer, signature: Buffer): DigestSignatureCheck {
  const der = stripSignaturePadding(signature);
  const curve = loadCurve(name); // outside the try: a missing library is a fault, not a bad signature
  const point = uncompressedPoint(key);
  let ok = false;
  try {
    ok = curve.verify(der, digest, point, { prehash: false, format: 'der', lowS: false });
  } catch {
    return { ok: false, reason: 'the ECDSA signature is not a well-formed DER ECDSA-Sig-Value' };
  }
  return ok ? { ok: true } : { ok: false, reason: `the ECDSA ${name} signature does not verify` };
}

// --- RSA-PSS -----------------------------------------------------------------------------------

type PssScheme = { verify(mHash: string, em: string, modBits: number): boolean };
let pss: PssScheme | undefined;

function loadPss(): PssScheme {
  if (!pss) {
    const forge = require('node-forge') as typeof import('node-forge');
    pss = forge.pss.create({
      md: forge.md.sha256.create(),
      mgf: forge.mgf.mgf1.create(forge.md.sha256.create()),
      saltLength: PSS_SALT_LENGTH,
    }) as PssScheme;
  }
  return pss;
}

function verifyRsaPss(key: KeyObject, bits: number, digest: Buffer, signature: Buffer): DigestSignatureCheck {
  if (signature.length !== bits / 8) {
    return { ok: false, reason: `an RSA-${bits} signature is ${bits / 8} bytes, not ${signature.length}` };
  }
  const scheme = loadPss();
  try {
    const encoded = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
    if (scheme.verify(digest.toString('binary'), encoded.toString('binary'), bits)) return { ok: true };
  } catch {
    // OpenSSL refuses a signature >= the modulus; forge throws on an inconsistent encoding.
  }
  return { ok: false, reason: 'the RSA-PSS signature does not verify' };
}
