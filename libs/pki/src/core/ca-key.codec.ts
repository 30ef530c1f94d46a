/**
 * CA keys at rest: PKCS#8 encrypted with a passphrase (PBES2: PBKDF2-HMAC-SHA256 at 600,000
 * iterations and AES-256-CBC, written by `encryptPrivateKeyPem` of @fleetguard/common), in PEM.
 * Keys written by earlier versions (2,048 iterations) are still read; CaService writes them again.
 */
import { createPrivateKey, generateKeyPair, KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { describeKeyProtection, DomainError, encryptPrivateKeyPem, invalid, isWeakKeyProtection, keyProtectionOf, MIN_KEY_PASSPHRASE_LENGTH } from '@fleetguard/common';
import { CaKeyAlgorithm, CA_KEY_ALGORITHMS } from './x509.signer';

const generateKeyPairAsync = promisify(generateKeyPair);

export const ENCRYPTED_KEY_PEM_LABEL = 'ENCRYPTED PRIVATE KEY';
const MIN_PASSPHRASE_LENGTH = MIN_KEY_PASSPHRASE_LENGTH;

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
  return encryptPrivateKeyPem(key, passphrase);
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

/**
 * A key written under weaker parameters than today's (the 2,048 PBKDF2 iterations of earlier
 * versions): decrypted with its own parameters and encrypted again with today's, same passphrase.
 * `undefined` when the key is already protected as new keys are.
 */
export function reencryptIfWeak(pem: string, passphrase: string): { pem: string; was: string } | undefined {
  const protection = keyProtectionOf(pem);
  if (!isWeakKeyProtection(protection)) return undefined;
  return { pem: encryptPrivateKey(decryptPrivateKey(pem, passphrase), passphrase), was: describeKeyProtection(protection) };
}
