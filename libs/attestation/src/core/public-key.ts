import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { invalid } from '@fleetguard/common';

/** A public key as the stores hold it: SPKI PEM, an X.509 certificate PEM, or a KeyObject. */
export type PublicKeyInput = string | KeyObject;

/** Reads a public key; a certificate yields its subject public key. Private keys are reduced to public. */
export function toPublicKey(input: PublicKeyInput, code = 'public-key-invalid'): KeyObject {
  if (input instanceof KeyObject) {
    return input.type === 'public' ? input : createPublicKey(input);
  }
  if (typeof input !== 'string') throw invalid(code, 'public key must be a PEM string');
  try {
    if (input.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(input).publicKey;
    return createPublicKey(input);
  } catch {
    throw invalid(code, 'public key is not a readable PEM public key or certificate');
  }
}

/** ECDSA field size in bytes for the curves we accept; null for anything else. */
export function ecFieldBytes(key: KeyObject): number | null {
  if (key.asymmetricKeyType !== 'ec') return null;
  switch (key.asymmetricKeyDetails?.namedCurve) {
    case 'prime256v1':
      return 32;
    case 'secp384r1':
      return 48;
    case 'secp521r1':
      return 66;
    default:
      return null;
  }
}

/**
 * The JWS algorithms a key may sign with. Derived from the key, never from the JWS header, so an
 * attacker cannot pick the algorithm (no `none`, no HMAC with a public key as secret).
 */
export function jwsAlgorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const size = ecFieldBytes(key);
      return size === 32 ? ['ES256'] : size === 48 ? ['ES384'] : size === 66 ? ['ES512'] : [];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    case 'rsa':
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ['RS256', 'PS256'] : [];
    case 'rsa-pss':
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ['PS256'] : [];
    default:
      return [];
  }
}
