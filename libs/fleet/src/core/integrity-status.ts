/**
 * A device's integrity status, as the fleet view shows it: one value per device, so the counts of
 * the dashboard add up to the fleet.
 *
 * 1. `revoked`: the device was revoked (its certificates are refused everywhere).
 * 2. `contraindicated`, `warning`, `none`: the last attestation result said so (its EAR status).
 *    A failing verdict stays visible until a later result replaces it, however old it is.
 * 3. `stale`: otherwise, when the device has no affirming result within twice the attestation
 *    interval (never attested, or the last affirmation is too old).
 * 4. `affirming`: an affirming result within that window.
 *
 * The SQL used to filter and count (fleet-query.service.ts) is the same rule; the tests check that
 * both agree.
 */
export const INTEGRITY_STATUSES = ['affirming', 'warning', 'contraindicated', 'none', 'stale', 'revoked'] as const;
export type IntegrityStatus = (typeof INTEGRITY_STATUSES)[number];

/** Last verdicts that are not affirming, in the order the EAR ranks them. */
export const FAILING_VERDICTS = ['contraindicated', 'warning', 'none'] as const;

/** How many attestation intervals may pass without an affirming result before a device is stale. */
export const STALE_AFTER_INTERVALS = 2;

export interface IntegrityFacts {
  status: 'active' | 'revoked' | string;
  attestationStatus: string | null;
  affirmedAt: Date | null;
}

export function isIntegrityStatus(v: string): v is IntegrityStatus {
  return (INTEGRITY_STATUSES as readonly string[]).includes(v);
}

/** Affirmations older than this are stale. */
export function staleCutoff(now: Date, intervalSeconds: number): Date {
  return new Date(now.getTime() - STALE_AFTER_INTERVALS * intervalSeconds * 1000);
}

/** An active device without a fresh affirming result (the `stale=true` filter). */
export function lacksFreshAffirmation(d: IntegrityFacts, now: Date, intervalSeconds: number): boolean {
  if (d.status === 'revoked') return false;
  return !d.affirmedAt || d.affirmedAt.getTime() < staleCutoff(now, intervalSeconds).getTime();
}

export function integrityStatus(d: IntegrityFacts, now: Date, intervalSeconds: number): IntegrityStatus {
  if (d.status === 'revoked') return 'revoked';
  const last = d.attestationStatus;
  if (last && (FAILING_VERDICTS as readonly string[]).includes(last)) return last as IntegrityStatus;
  return lacksFreshAffirmation(d, now, intervalSeconds) ? 'stale' : 'affirming';
}
