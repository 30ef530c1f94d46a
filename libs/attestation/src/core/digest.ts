/** SHA-256 digests as the attestation core carries them: 64 lowercase hex characters. */

export const SHA256_HEX_LENGTH = 64;
/** The value of every PCR before the first extend (and of a PCR no event measured). */
export const ZERO_PCR = '0'.repeat(SHA256_HEX_LENGTH);

const HEX64 = /^[0-9a-fA-F]{64}$/;

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

/**
 * Accepts `<hex>` or `sha256:<hex>` (the firmware manifest writes the prefixed form) and returns
 * lowercase bare hex, or null when it is neither.
 */
export function normalizeSha256(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const bare = value.startsWith('sha256:') ? value.slice('sha256:'.length) : value;
  return HEX64.test(bare) ? bare.toLowerCase() : null;
}

/** Short form for reasons shown to people: `sha256:0123456789abcdef..`. */
export function showDigest(hex: string): string {
  return `sha256:${hex.slice(0, 16)}..`;
}
