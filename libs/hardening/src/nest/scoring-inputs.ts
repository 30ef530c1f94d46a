/**
 * What the stored state of a device turns into for the scorer, and back: plain functions shared
 * by the per-device rescore, the fleet-wide batch and the score endpoint, so the three agree. The
 * staleness window is the kernel's (`isFreshAffirmation`, @fleetguard/common), so a device the fleet
 * view calls stale is scored as stale.
 */
import {
  ATTESTATION_STATUSES,
  FR_KEYS,
  HARDENING_REPORT_SCHEMA_VERSION,
  type AttestationInput,
  type AttestationStatus,
  type DeviceScore,
  type HardeningReport,
  type ItemStatus,
  type SlValue,
  type SlVector,
  type TargetLevels,
  type UncertainDeciders,
} from '../core';
import { isFreshAffirmation } from '@fleetguard/common';

/** The facts of a device that has sent no report: none, so every fact-based item is unknown. */
export const EMPTY_REPORT: HardeningReport = Object.freeze({ schemaVersion: HARDENING_REPORT_SCHEMA_VERSION }) as HardeningReport;

/** Why a device was scored (device_scores.cause). */
export type ScoreCause = 'report' | 'attestation' | 'attestation-stale' | 'rescore-all' | 'observation' | 'applicability';

/** The attestation columns of a device row. */
export interface DeviceAttestationState {
  /** The last EAR status stored for the device (null: never appraised). */
  attestationStatus: string | null;
  attestationAt: Date | null;
  /** When the device last had an affirming result. */
  affirmedAt: Date | null;
}

export function isAttestationStatus(v: unknown): v is AttestationStatus {
  return typeof v === 'string' && (ATTESTATION_STATUSES as readonly string[]).includes(v);
}

/**
 * The attestation status the scorer uses:
 * - never appraised: `none` (the integrity items stay unknown, neither met nor contradicted);
 * - last result contraindicated: `contraindicated`, however old (a failure stays visible);
 * - otherwise `stale` when there is no affirming result within the fleet's staleness window
 *   (`isFreshAffirmation`: STALE_AFTER_INTERVALS attestation intervals; affirmed_at older, or null while a status is set);
 * - otherwise the last status (affirming, warning, none).
 */
export function scoringAttestation(d: DeviceAttestationState, now: Date, intervalSeconds: number): AttestationInput {
  const reported = d.attestationStatus;
  if (!reported) return { status: 'none' };
  const at = d.attestationAt ?? undefined;
  if (reported === 'contraindicated') return { status: 'contraindicated', at };
  if (!isFreshAffirmation(d.affirmedAt, now, intervalSeconds)) return { status: 'stale', at };
  return { status: isAttestationStatus(reported) ? reported : 'none', at };
}

/**
 * A product's target levels as stored (jsonb), reduced to what `gaps` accepts: FR1..FR7 with an
 * integer 0..4; anything else is dropped (target 0).
 */
export function toTargetLevels(raw: unknown): TargetLevels {
  const out: Partial<Record<(typeof FR_KEYS)[number], SlValue>> = {};
  if (raw && typeof raw === 'object') {
    for (const k of FR_KEYS) {
      const v = (raw as Record<string, unknown>)[k];
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4) out[k] = v as SlValue;
    }
  }
  return out;
}

/** Below target: the evidenced level of some FR is under the product's target for it. */
export function isBelowTarget(evidenced: SlVector, target: TargetLevels): boolean {
  for (const k of FR_KEYS) if (evidenced[k] < (target[k] ?? 0)) return true;
  return false;
}

export function sameVector(a: SlVector, b: Record<string, number> | null | undefined): boolean {
  if (!b) return false;
  for (const k of FR_KEYS) if (a[k] !== b[k]) return false;
  return true;
}

/** What device_scores.items holds: the item statuses summed up, and what they were computed with. */
export interface StoredScoreSummary {
  catalogVersion: string;
  rulesVersion: string;
  /** The attestation status the score used (after the staleness rule). */
  attestation: AttestationStatus;
  counts: Readonly<Record<ItemStatus, number>>;
  /** Present when some unmet uncertain item binds a level. */
  decidedByUncertain?: { evidenced: UncertainDeciders; declared: UncertainDeciders };
}

export function summarizeScore(score: DeviceScore): StoredScoreSummary {
  const u = score.decidedByUncertain;
  const anyUncertain = Object.keys(u.evidenced).length > 0 || Object.keys(u.declared).length > 0;
  return {
    catalogVersion: score.catalogVersion,
    rulesVersion: score.rulesVersion,
    attestation: score.attestation.status,
    counts: score.counts,
    ...(anyUncertain ? { decidedByUncertain: { evidenced: u.evidenced, declared: u.declared } } : {}),
  };
}
