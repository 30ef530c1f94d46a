import { randomBytes } from 'node:crypto';
import { invalid } from '@fleetguard/common';

/** Bytes of randomness in a verifier nonce (SPEC asks for at least 16). */
export const NONCE_BYTES = 32;
/** Accepted nonce sizes when reading one back (RFC 9711 eat_nonce: 8..64 bytes; we ask for 16+). */
export const NONCE_MIN_BYTES = 16;
export const NONCE_MAX_BYTES = 64;
export const NONCE_MAX_TTL_SECONDS = 86_400;

export interface Challenge {
  /** base64url (no padding) of NONCE_BYTES random bytes; the `eat_nonce` the evidence must carry. */
  nonce: string;
  expiresAt: Date;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A fresh challenge. Single use and expiry are the store's job (port `consumeNonce`). */
export function newNonce(ttlSeconds: number, now: Date = new Date()): Challenge {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > NONCE_MAX_TTL_SECONDS) {
    throw invalid('nonce-ttl-invalid', `nonce TTL must be an integer from 1 to ${NONCE_MAX_TTL_SECONDS} seconds`);
  }
  return {
    nonce: randomBytes(NONCE_BYTES).toString('base64url'),
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
  };
}

/**
 * The nonce's raw bytes. These are also what the TPM quote carries: the attester passes them as
 * the quote's qualifying data (`tpm2_quote -q <hex of these bytes>`), and TPMS_ATTEST.extraData
 * must equal them byte for byte. Chosen over hashing the nonce or quoting its text form because
 * it is the simplest binding that still fits TPM2B_DATA (at most 64 bytes on common TPMs).
 */
export function decodeNonce(nonce: string): Buffer {
  if (typeof nonce !== 'string' || !BASE64URL.test(nonce)) {
    throw invalid('nonce-malformed', 'nonce must be base64url without padding');
  }
  const bytes = Buffer.from(nonce, 'base64url');
  if (bytes.toString('base64url') !== nonce) {
    throw invalid('nonce-malformed', 'nonce is not canonical base64url');
  }
  if (bytes.length < NONCE_MIN_BYTES || bytes.length > NONCE_MAX_BYTES) {
    throw invalid('nonce-malformed', `nonce must be ${NONCE_MIN_BYTES} to ${NONCE_MAX_BYTES} bytes`);
  }
  return bytes;
}
