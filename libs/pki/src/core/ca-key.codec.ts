/**
 * CA keys at rest: PKCS#8 encrypted with a passphrase (PBES2: PBKDF2-HMAC-SHA256 and
 * AES-256-CBC, as Node/OpenSSL 3 write `cipher: 'aes-256-cbc'`), in PEM.
 */
import { createPrivateKey, generateKeyPair, KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { DomainError, invalid } from '@fleetguard/common';
import { CaKeyAlgorithm, CA_KEY_ALGORITHMS } from './x509.signer';

const generateKeyPairAsync = promisify(generateKeyPair);

export const ENCRYPTED_KEY_PEM_LABEL = 'ENCRYPTED PRIVATE KEY';
const MIN_PASSPHRASE_LENGTH = 8;

export async function generateCaKey(keyAlgorithm: CaKeyAlgorithm): Promise<KeyObject> {
  if (!CA_KEY_ALGORITHMS.includes(keyAlgorithm)) {
    throw invalid('ca.unsupported-key', `CA key algorithm must be one of ${CA_KEY_ALGORITHMS.join(', ')}`);
  }
  const { privateKey } =
    keyAlgorithm === 'Ed25519'
      ? await generateKeyPairAsync('ed25519')
      : await generateKeyPairAsync('ec', { namedCurve: keyAlgorithm === 'P-256' ? 'prime256v1' : 'secp384r1' });
  return privateKey;
}

/** Checks a passphrase chosen for new key material. */
export function assertNewPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw invalid('ca.weak-passphrase', `The CA passphrase must be a string of at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  return passphrase;
}

export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

/**
 * Decrypts an encrypted PKCS#8 PEM. A wrong passphrase shows as a padding error most of the time
 * and as undecodable plaintext otherwise, so any failure to decrypt is `ca.bad-passphrase`.
 * A key stored in clear is refused: the SPEC wants the CA key encrypted at rest.
 */
export function decryptPrivateKey(pem: unknown, passphrase: unknown): KeyObject {
  if (typeof pem !== 'string' || !pem.includes(`-----BEGIN ${ENCRYPTED_KEY_PEM_LABEL}-----`)) {
    throw invalid('ca.unencrypted-key', 'The CA key must be an encrypted PKCS#8 PEM (BEGIN ENCRYPTED PRIVATE KEY)');
  }
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new DomainError('ca.bad-passphrase', 'A passphrase is required to decrypt the CA key', 'unauthorized');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch {
    throw new DomainError('ca.bad-passphrase', 'Cannot decrypt the CA key: wrong passphrase or damaged key', 'unauthorized');
  }
}
