/**
 * Key identifiers: the SHA-256 of a public key's DER SubjectPublicKeyInfo, in lowercase hex
 * (SPEC "Firmware": key id = SHA-256 of the DER public key; also used to name device keys).
 */
import { createHash } from 'node:crypto';
import { invalid } from '@fleetguard/common';

export function spkiSha256Hex(spkiDer: Uint8Array): string {
  if (!(spkiDer instanceof Uint8Array) || spkiDer.byteLength === 0) {
    throw invalid('pki.bad-public-key', 'Expected the DER SubjectPublicKeyInfo of a public key');
  }
  return createHash('sha256').update(spkiDer).digest('hex');
}
