/**
 * The status of an attestation result (EAR, draft-ietf-rats-ear: `ear.status`, the AR4SI trust
 * tiers). Attestation writes it, fleet stores it on the device, hardening scores from it, the API
 * and the device simulator show it.
 */
export const EAR_STATUSES = ['affirming', 'warning', 'contraindicated', 'none'] as const;
export type EarStatus = (typeof EAR_STATUSES)[number];

export function isEarStatus(v: unknown): v is EarStatus {
  return typeof v === 'string' && (EAR_STATUSES as readonly string[]).includes(v);
}
