/**
 * RFC 5280 5.3.1 CRLReason: names and codes, and a forgiving reader for what operators type
 * ("keyCompromise", "key-compromise", "KEY_COMPROMISE", 1, "1"). Code 7 is unassigned.
 */
import { invalid } from '@fleetguard/common';

export const REVOCATION_REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASON_CODES;
export type RevocationReasonCode = (typeof REVOCATION_REASON_CODES)[RevocationReason];

export const REVOCATION_REASONS = Object.keys(REVOCATION_REASON_CODES) as readonly RevocationReason[];

const BY_CODE = new Map<number, RevocationReason>(REVOCATION_REASONS.map((name) => [REVOCATION_REASON_CODES[name], name]));
const BY_FOLDED_NAME = new Map<string, RevocationReason>(REVOCATION_REASONS.map((name) => [fold(name), name]));

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

/** Reads a reason given by name (case, '-', '_' and spaces ignored) or by numeric code. */
export function parseRevocationReason(input: unknown): RevocationReason {
  let reason: RevocationReason | undefined;
  if (typeof input === 'number') reason = Number.isInteger(input) ? BY_CODE.get(input) : undefined;
  else if (typeof input === 'string') reason = /^\d{1,2}$/.test(input.trim()) ? BY_CODE.get(Number(input)) : BY_FOLDED_NAME.get(fold(input));
  if (!reason) {
    throw invalid('pki.bad-revocation-reason', `Unknown revocation reason ${typeof input === 'string' || typeof input === 'number' ? JSON.stringify(input) : typeof input}; use one of ${REVOCATION_REASONS.join(', ')}`, {
      allowed: REVOCATION_REASONS,
    });
  }
  return reason;
}

export function revocationReasonCode(reason: RevocationReason): RevocationReasonCode {
  return REVOCATION_REASON_CODES[reason];
}
