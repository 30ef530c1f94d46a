/**
 * Which device keys the CA certifies (SPEC "PKI"): ECDSA P-256 and P-384, Ed25519, RSA of at
 * least 2048 bits; P-521 only when switched on. The key is decoded by Node (OpenSSL), which also
 * checks that an EC point lies on its curve, so nothing here reads key bytes by hand.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import { invalid } from '@fleetguard/common';

export type DeviceKeyType = 'P-256' | 'P-384' | 'P-521' | 'Ed25519' | 'RSA';

export interface KeyPolicy {
  /** Smallest accepted RSA modulus, in bits. Default 2048; values below 2048 are refused. */
  minRsaBits?: number;
  /** Largest accepted RSA modulus, in bits. Default 8192 (bounds the cost of one request). */
  maxRsaBits?: number;
  /** Accept ECDSA P-521 keys. Default false: many TLS stacks on devices lack it. */
  allowP521?: boolean;
}

export const DEFAULT_KEY_POLICY: Required<KeyPolicy> = { minRsaBits: 2048, maxRsaBits: 8192, allowP521: false };

export interface ClassifiedKey {
  keyType: DeviceKeyType;
  keyBits: number;
  key: KeyObject;
}

const CURVES: Record<string, { keyType: DeviceKeyType; bits: number }> = {
  prime256v1: { keyType: 'P-256', bits: 256 },
  secp384r1: { keyType: 'P-384', bits: 384 },
  secp521r1: { keyType: 'P-521', bits: 521 },
};

/**
 * Decodes a DER SubjectPublicKeyInfo and applies the policy. Throws `<prefix>.key-not-allowed`
 * for a key of a refused type or size and `<prefix>.malformed` for bytes that are not a key.
 */
export function classifyPublicKey(spkiDer: Buffer, policy: KeyPolicy = {}, errorPrefix = 'csr'): ClassifiedKey {
  const rules = resolvePolicy(policy);
  const fast = namedCurveFastPath(spkiDer, errorPrefix);
  if (fast) return fast;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw invalid(`${errorPrefix}.malformed`, 'The public key cannot be decoded');
  }
  const refuse = (what: string) =>
    invalid(`${errorPrefix}.key-not-allowed`, `${what} keys are not accepted (allowed: ${describePolicy(rules)})`, {
      allowed: describePolicy(rules),
    });
  const details = key.asymmetricKeyDetails ?? {};
  let keyType: DeviceKeyType;
  let keyBits: number;
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve ? CURVES[details.namedCurve] : undefined;
      if (!curve) throw refuse(`EC ${details.namedCurve ?? 'explicit-parameter'}`);
      if (curve.keyType === 'P-521' && !rules.allowP521) throw refuse('EC P-521');
      ({ keyType, bits: keyBits } = curve);
      break;
    }
    case 'ed25519':
      keyType = 'Ed25519';
      keyBits = 256;
      break;
    case 'rsa': {
      keyBits = details.modulusLength ?? 0;
      if (keyBits < rules.minRsaBits || keyBits > rules.maxRsaBits) throw refuse(`RSA-${keyBits}`);
      keyType = 'RSA';
      break;
    }
    default:
      throw refuse((key.asymmetricKeyType ?? 'unknown').toUpperCase());
  }
  return { keyType, keyBits, key };
}

/**
 * The DER SubjectPublicKeyInfo of an uncompressed P-256 or P-384 point is a fixed prefix followed
 * by the point (RFC 5480 2.2). Those keys, nearly every device key, are imported as a JWK: OpenSSL
 * 3's DER decoder framework costs twice as much, and the import checks the point lies on the curve
 * all the same. Any other encoding takes the general path.
 */
const NAMED_CURVE_SPKI = [
  { prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), crv: 'P-256', keyType: 'P-256' as const, bits: 256, size: 32 },
  { prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200' + '04', 'hex'), crv: 'P-384', keyType: 'P-384' as const, bits: 384, size: 48 },
];

function namedCurveFastPath(der: Buffer, errorPrefix: string): ClassifiedKey | undefined {
  for (const c of NAMED_CURVE_SPKI) {
    if (der.length !== c.prefix.length + 2 * c.size || !der.subarray(0, c.prefix.length).equals(c.prefix)) continue;
    const x = der.subarray(c.prefix.length, c.prefix.length + c.size).toString('base64url');
    const y = der.subarray(c.prefix.length + c.size).toString('base64url');
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'EC', crv: c.crv, x, y }, format: 'jwk' });
    } catch {
      throw invalid(`${errorPrefix}.malformed`, 'The public key cannot be decoded');
    }
    return { keyType: c.keyType, keyBits: c.bits, key };
  }
  return undefined;
}

/**
 * The subjectPublicKey of an uncompressed P-256 or P-384 SubjectPublicKeyInfo (the point, 0x04 ||
 * X || Y: what follows the fixed prefix's unused-bits octet); undefined for any other encoding.
 */
export function namedCurvePoint(der: Buffer): Uint8Array | undefined {
  for (const c of NAMED_CURVE_SPKI) {
    if (der.length === c.prefix.length + 2 * c.size && der.subarray(0, c.prefix.length).equals(c.prefix)) return der.subarray(c.prefix.length - 1);
  }
  return undefined;
}

function resolvePolicy(policy: KeyPolicy): Required<KeyPolicy> {
  const rules = { ...DEFAULT_KEY_POLICY, ...stripUndefined(policy) };
  if (!Number.isInteger(rules.minRsaBits) || rules.minRsaBits < 2048) {
    throw invalid('pki.bad-key-policy', 'minRsaBits must be an integer of at least 2048');
  }
  if (!Number.isInteger(rules.maxRsaBits) || rules.maxRsaBits < rules.minRsaBits) {
    throw invalid('pki.bad-key-policy', 'maxRsaBits must be an integer not below minRsaBits');
  }
  return rules;
}

function describePolicy(rules: Required<KeyPolicy>): string {
  return ['P-256', 'P-384', ...(rules.allowP521 ? ['P-521'] : []), 'Ed25519', `RSA ${rules.minRsaBits}..${rules.maxRsaBits}`].join(', ');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
