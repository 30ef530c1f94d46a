import { EAR_STATUSES } from './ear-status';

/**
 * A device's integrity status, as the fleet view shows it: one value per device, so the counts of
 * the dashboard add up to the fleet.
 *
 * 1. `revoked`: the device was revoked (its certificates are refused everywhere).
 * 2. `contraindicated`, `warning`, `none`: the last attestation result said so (its EAR status).
 *    A failing verdict stays visible until a later result replaces it, however old it is.
 * 3. `stale`: otherwise, when the device has no affirming result within STALE_AFTER_INTERVALS
 *    attestation intervals (never attested, or the last affirmation is too old).
 * 4. `affirming`: an affirming result within that window.
 *
 * Said once, here: the fleet view, its SQL (integritySql, built from the same constants), the
 * staleness sweep of attestation and the scoring inputs of hardening all use it, and the
 * dashboard shows the `integrity` the API computed with it.
 */
export const INTEGRITY_STATUSES = [...EAR_STATUSES, 'stale', 'revoked'] as const;
export type IntegrityStatus = (typeof INTEGRITY_STATUSES)[number];

/** Last verdicts that are not affirming, in the order the EAR ranks them. */
export const FAILING_VERDICTS = ['contraindicated', 'warning', 'none'] as const;

/** Active devices that need a look: a failing last verdict, or no fresh affirmation. */
export const ATTENTION_STATUSES = [...FAILING_VERDICTS, 'stale'] as const;

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

/** How long an affirmation stays fresh, in seconds. */
export function staleAfterSeconds(intervalSeconds: number): number {
  return STALE_AFTER_INTERVALS * intervalSeconds;
}

/** Affirmations older than this are stale. */
export function staleCutoff(now: Date, intervalSeconds: number): Date {
  return new Date(now.getTime() - staleAfterSeconds(intervalSeconds) * 1000);
}

/** An affirmation within the window (null: never affirmed, not fresh). */
export function isFreshAffirmation(affirmedAt: Date | null, now: Date, intervalSeconds: number): boolean {
  return affirmedAt !== null && affirmedAt.getTime() >= staleCutoff(now, intervalSeconds).getTime();
}

/** An active device without a fresh affirming result (the `stale=true` filter). */
export function lacksFreshAffirmation(d: IntegrityFacts, now: Date, intervalSeconds: number): boolean {
  if (d.status === 'revoked') return false;
  return !isFreshAffirmation(d.affirmedAt, now, intervalSeconds);
}

export function integrityStatus(d: IntegrityFacts, now: Date, intervalSeconds: number): IntegrityStatus {
  if (d.status === 'revoked') return 'revoked';
  const last = d.attestationStatus;
  if (last && (FAILING_VERDICTS as readonly string[]).includes(last)) return last as IntegrityStatus;
  return lacksFreshAffirmation(d, now, intervalSeconds) ? 'stale' : 'affirming';
}

/** The SQL names of a device's integrity facts, and the bound parameter holding staleCutoff(). */
export interface IntegritySqlNames {
  status: string;
  attestationStatus: string;
  affirmedAt: string;
  /** A placeholder bound to staleCutoff(now, interval), e.g. `:staleCutoff` or `$1`. */
  cutoff: string;
}

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** integrityStatus() as an SQL expression over the given columns (the same rule, the same constants). */
export function integritySql(n: IntegritySqlNames): string {
  return `(CASE
  WHEN ${n.status} = 'revoked' THEN 'revoked'
  WHEN ${n.attestationStatus} IN (${quoted(FAILING_VERDICTS)}) THEN ${n.attestationStatus}
  WHEN ${lacksFreshSql(n)} THEN 'stale'
  ELSE 'affirming' END)`;
}

/** lacksFreshAffirmation() as an SQL condition over the given columns. */
export function lacksFreshAffirmationSql(n: IntegritySqlNames): string {
  return `(${n.status} <> 'revoked' AND ${lacksFreshSql(n)})`;
}

function lacksFreshSql(n: IntegritySqlNames): string {
  return `(${n.affirmedAt} IS NULL OR ${n.affirmedAt} < ${n.cutoff})`;
}
