import { KeyObject, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { DomainError, invalid } from '@fleetguard/common';
import { CborTag, decodeCbor, encodeCbor, expectBytes, expectMap } from './cbor.codec';

/**
 * COSE_Sign1 (RFC 9052 §4.2) verification on node:crypto, ECDSA only (ES256, ES384, ES512 over
 * P-256, P-384, P-521: what PSA IAKs use). The signature covers the Sig_structure
 * `["Signature1", body_protected, external_aad = h'', payload]` (§4.4), and is r || s as COSE
 * requires (§2.1 of RFC 9053), checked with `dsaEncoding: 'ieee-p1363'`.
 */

export const COSE_SIGN1_TAG = 18;
const HEADER_ALG = 1;
const HEADER_CRIT = 2;

export const COSE_ALGS = {
  [-7]: { name: 'ES256', hash: 'sha256', curve: 'prime256v1', size: 32 },
  [-35]: { name: 'ES384', hash: 'sha384', curve: 'secp384r1', size: 48 },
  [-36]: { name: 'ES512', hash: 'sha512', curve: 'secp521r1', size: 66 },
} as const satisfies Record<number, { name: string; hash: string; curve: string; size: number }>;
export type CoseAlg = (typeof COSE_ALGS)[keyof typeof COSE_ALGS]['name'];

export const COSE_ERROR = {
  /** Not a COSE_Sign1 structure: bad CBOR, wrong shape, unreadable headers. */
  malformed: 'cose-malformed',
  /** Algorithm missing from the protected header, or not ES256/ES384/ES512. */
  algUnsupported: 'cose-alg-unsupported',
  /** The key is not an EC key on the curve of the algorithm. */
  keyMismatch: 'cose-key-mismatch',
  /** The signature does not verify with the key. */
  signatureInvalid: 'cose-signature-invalid',
} as const;

export interface CoseSign1 {
  /** The protected header as sent (its bytes are what is signed). */
  protectedBytes: Buffer;
  protectedHeader: Map<unknown, unknown>;
  unprotectedHeader: Map<unknown, unknown>;
  payload: Buffer;
  signature: Buffer;
  alg: CoseAlg;
  algId: keyof typeof COSE_ALGS;
  /** Whether the structure carried tag 18. */
  tagged: boolean;
}

/** Reads a COSE_Sign1 (tagged 18 or untagged) without checking the signature. */
export function parseCoseSign1(bytes: Uint8Array, what = 'COSE_Sign1'): CoseSign1 {
  const code = COSE_ERROR.malformed;
  let top = decodeCbor(bytes, { code, what, tags: [COSE_SIGN1_TAG] });
  const tagged = top instanceof CborTag;
  if (top instanceof CborTag) top = top.value;
  if (!Array.isArray(top) || top.length !== 4) throw invalid(code, `${what} must be a COSE_Sign1 array of 4 elements`);
  const [p, u, payload, signature] = top;
  const protectedBytes = expectBytes(p, code, `${what} protected header`);
  const protectedHeader = protectedBytes.length === 0 ? new Map() : expectMap(decodeCbor(protectedBytes, { code, what: `${what} protected header` }), code, `${what} protected header`);
  const unprotectedHeader = expectMap(u, code, `${what} unprotected header`);
  if (payload === null) throw invalid(code, `${what} has a detached payload, which is not accepted here`);
  const payloadBytes = expectBytes(payload, code, `${what} payload`);
  const sig = expectBytes(signature, code, `${what} signature`);
  for (const k of protectedHeader.keys()) {
    if (unprotectedHeader.has(k)) throw invalid(code, `${what} header ${String(k)} is both protected and unprotected`);
  }
  if (protectedHeader.has(HEADER_CRIT)) throw invalid(code, `${what} lists critical headers (crit), none of which this verifier understands`);
  const algValue = protectedHeader.get(HEADER_ALG);
  if (algValue === undefined) {
    throw invalid(COSE_ERROR.algUnsupported, unprotectedHeader.has(HEADER_ALG) ? `${what} algorithm must be in the protected header` : `${what} names no algorithm`);
  }
  const alg = typeof algValue === 'number' ? (COSE_ALGS as Record<number, (typeof COSE_ALGS)[keyof typeof COSE_ALGS] | undefined>)[algValue] : undefined;
  if (!alg) throw invalid(COSE_ERROR.algUnsupported, `${what} algorithm ${String(algValue)} is not ES256 (-7), ES384 (-35) or ES512 (-36)`);
  return { protectedBytes, protectedHeader, unprotectedHeader, payload: payloadBytes, signature: sig, alg: alg.name, algId: algValue as keyof typeof COSE_ALGS, tagged };
}

/** The bytes that are signed (RFC 9052 §4.4), external_aad empty. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, externalAad: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, externalAad, payload]);
}

export function toEcPublicKey(key: KeyObject | string): KeyObject {
  try {
    return typeof key === 'string' ? createPublicKey(key) : key;
  } catch {
    throw invalid(COSE_ERROR.keyMismatch, 'the verification key is not a readable public key (PEM)');
  }
}

/** Whether `key` can verify `alg` (EC on its curve). */
export function keyFitsAlg(key: KeyObject, algId: keyof typeof COSE_ALGS): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === COSE_ALGS[algId].curve;
}

/** Verifies a parsed COSE_Sign1 with `key`; throws `cose-signature-invalid` or `cose-key-mismatch`. */
export function verifyCoseSign1(msg: CoseSign1, key: KeyObject, what = 'COSE_Sign1'): void {
  const alg = COSE_ALGS[msg.algId];
  if (!keyFitsAlg(key, msg.algId)) {
    throw invalid(COSE_ERROR.keyMismatch, `${what} is signed with ${alg.name}, but the key is ${key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType}`);
  }
  let ok = false;
  if (msg.signature.length === 2 * alg.size) {
    try {
      ok = cryptoVerify(alg.hash, sigStructure(msg.protectedBytes, msg.payload), { key, dsaEncoding: 'ieee-p1363' }, msg.signature);
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new DomainError(COSE_ERROR.signatureInvalid, `${what} signature (${alg.name}) does not verify with the key`, 'invalid');
}

/** Convenience: parse then verify. */
export function verifyCoseSign1Bytes(bytes: Uint8Array, key: KeyObject, what = 'COSE_Sign1'): CoseSign1 {
  const msg = parseCoseSign1(bytes, what);
  verifyCoseSign1(msg, key, what);
  return msg;
}

