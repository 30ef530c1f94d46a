import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';

export type SigningAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RSA-PSS';

/** A product's firmware signing key (public part), as every verifier in this lib takes it. */
export interface SigningKey {
  /** Hex SHA-256 of the DER SubjectPublicKeyInfo: the key id of the spec and of a JWS `kid`. */
  readonly keyId: string;
  readonly algorithm: SigningAlgorithm;
  readonly keyObject: KeyObject;
  readonly spkiDer: Buffer;
  /** RSA modulus size, for matching RSA2048_PSS / RSA3072_PSS; null for EC and Ed25519. */
  readonly modulusBits: number | null;
  /**
   * The DER encodings under which an MCUboot image may name this key: imgtool hashes the
   * SubjectPublicKeyInfo for EC and Ed25519, and the PKCS#1 RSAPublicKey for RSA. A PUBKEY TLV
   * carries one of them whole, a KEYHASH TLV its SHA-256 (see `mcubootKeyHashes`).
   */
  readonly mcubootKeyForms: readonly Buffer[];
  /** Hex SHA-256 of each of `mcubootKeyForms`; a KEYHASH TLV matches if it equals any of them. */
  readonly mcubootKeyHashes: readonly string[];
}

const MAX_PEM_LENGTH = 16 * 1024;
const MIN_RSA_BITS = 2048;
/** Bigger moduli buy nothing for firmware and make each verification slower: a cheap DoS bound. */
const MAX_RSA_BITS = 8192;
const PUBLIC_PEM = /-----BEGIN (RSA )?PUBLIC KEY-----/;

const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * Reads a public key in PEM (`PUBLIC KEY` SubjectPublicKeyInfo, or `RSA PUBLIC KEY` PKCS#1) and
 * checks it is one we accept: EC P-256 (ES256), EC P-384 (ES384, MCUboot images only), Ed25519 (EdDSA) or RSA of 2048 to 8192 bits
 * (RSA-PSS). A private key is refused outright, so it is never stored by mistake.
 */
export function signingKeyFromPem(pem: string | Buffer): SigningKey {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  if (text.length > MAX_PEM_LENGTH) {
    throw firmwareError(FIRMWARE_ERROR.keyInvalidPem, `public key PEM is longer than ${MAX_PEM_LENGTH} characters`);
  }
  if (/PRIVATE KEY-----/.test(text)) {
    throw firmwareError(FIRMWARE_ERROR.keyPrivate, 'this is a private key: give the public key only (openssl pkey -pubout)');
  }
  if (!PUBLIC_PEM.test(text)) {
    throw firmwareError(FIRMWARE_ERROR.keyInvalidPem, 'expected a PEM "PUBLIC KEY" (or "RSA PUBLIC KEY") block');
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw firmwareError(FIRMWARE_ERROR.keyInvalidPem, 'the PEM block is not a readable public key');
  }
  return signingKeyFromKeyObject(keyObject);
}

/** The same checks for a DER SubjectPublicKeyInfo (e.g. as stored by the persistence layer). */
export function signingKeyFromSpki(spkiDer: Uint8Array): SigningKey {
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch {
    throw firmwareError(FIRMWARE_ERROR.keyInvalidPem, 'the DER bytes are not a SubjectPublicKeyInfo');
  }
  return signingKeyFromKeyObject(keyObject);
}

export function signingKeyFromKeyObject(keyObject: KeyObject): SigningKey {
  if (keyObject.type !== 'public') {
    throw firmwareError(FIRMWARE_ERROR.keyPrivate, 'a signing key must be given as a public key');
  }
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails ?? {};
  let algorithm: SigningAlgorithm;
  let modulusBits: number | null = null;
  if (type === 'ec') {
    if (details.namedCurve === 'prime256v1') algorithm = 'ES256';
    else if (details.namedCurve === 'secp384r1') algorithm = 'ES384';
    else {
      throw firmwareError(
        FIRMWARE_ERROR.keyUnsupported,
        `EC keys must be on P-256 (prime256v1) or P-384 (secp384r1), not ${details.namedCurve ?? 'an unnamed curve'}`,
      );
    }
  } else if (type === 'ed25519') {
    algorithm = 'EdDSA';
  } else if (type === 'rsa') {
    modulusBits = details.modulusLength ?? 0;
    if (modulusBits < MIN_RSA_BITS) {
      throw firmwareError(FIRMWARE_ERROR.keyTooWeak, `RSA keys must have at least ${MIN_RSA_BITS} bits, this one has ${modulusBits}`);
    }
    if (modulusBits > MAX_RSA_BITS) {
      throw firmwareError(FIRMWARE_ERROR.keyUnsupported, `RSA keys above ${MAX_RSA_BITS} bits are not accepted`);
    }
    algorithm = 'RSA-PSS';
  } else if (type === 'rsa-pss') {
    throw firmwareError(
      FIRMWARE_ERROR.keyUnsupported,
      'RSASSA-PSS-restricted keys (id-RSASSA-PSS) are not accepted: give the key as a plain RSA public key',
    );
  } else {
    throw firmwareError(
      FIRMWARE_ERROR.keyUnsupported,
      `unsupported key type ${type ?? 'unknown'}: use EC P-256 or P-384, Ed25519 or RSA (>= ${MIN_RSA_BITS} bits)`,
    );
  }
  const spkiDer = keyObject.export({ type: 'spki', format: 'der' });
  const forms = [spkiDer];
  if (type === 'rsa') forms.push(keyObject.export({ type: 'pkcs1', format: 'der' }));
  return Object.freeze({
    keyId: sha256Hex(spkiDer),
    algorithm,
    keyObject,
    spkiDer,
    modulusBits,
    mcubootKeyForms: Object.freeze(forms),
    mcubootKeyHashes: Object.freeze(forms.map(sha256Hex)),
  });
}
