/**
 * Reads an EAR (attestation result JWT) for display: status, reasons, nonce. It does not verify
 * the verifier's signature (a device does not need to; tests that do use verifyEar from
 * @fleetguard/attestation with the key from GET /attestation/verifier-key).
 */
import { decodeJwt } from 'jose';

export interface EarSummary {
  /** `affirming`, `warning`, `contraindicated`, `none`; `unreadable` when the JWT does not decode. */
  status: string;
  reasons: string[];
  /** The eat_nonce the result answers (absent when the evidence never got past identity or freshness). */
  nonce?: string;
  /** The attester (JWT `sub`). */
  deviceId?: string;
  iat?: number;
}

export function summarizeEar(ear: string): EarSummary {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(ear) as Record<string, unknown>;
  } catch (e) {
    return { status: 'unreadable', reasons: [`the EAR does not decode: ${(e as Error).message}`] };
  }
  const submods = claims.submods as Record<string, Record<string, unknown>> | undefined;
  const device = submods?.device ?? Object.values(submods ?? {})[0];
  // draft-ietf-rats-ear-04 labels (the service's default), or veraison/ear's (FLEETGUARD_EAR_FORM=veraison).
  const status = device?.ear_status ?? device?.['ear.status'];
  const reasons = (device?.ear_verifier_claims as { reasons?: unknown } | undefined)?.reasons ?? device?.reasons;
  return {
    status: typeof status === 'string' ? status : 'unreadable',
    reasons: Array.isArray(reasons) ? reasons.map(String) : [],
    ...(typeof claims.eat_nonce === 'string' ? { nonce: claims.eat_nonce } : {}),
    ...(typeof claims.sub === 'string' ? { deviceId: claims.sub } : {}),
    ...(typeof claims.iat === 'number' ? { iat: claims.iat } : {}),
  };
}
