import { isDomainError } from '@fleetguard/common';
import { MCUBOOT_IMAGE_MAGIC, SigningKey, signingKeyFromPem } from '@fleetguard/firmware';
import { usageError } from '../exit-codes';

/** A public key as the firmware lib accepts it (EC P-256, Ed25519, RSA >= 2048); a private key is refused. */
export function publicKeyFromPem(file: string, pem: string): SigningKey {
  try {
    return signingKeyFromPem(pem);
  } catch (e) {
    if (isDomainError(e)) throw usageError(`${file}: ${e.message}`, e.code);
    throw e;
  }
}

export const hasMcubootMagic = (head: Buffer) => head.length >= 4 && head.readUInt32LE(0) === MCUBOOT_IMAGE_MAGIC;
