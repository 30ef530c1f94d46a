/** What the operator API shows of scores and of the catalog: explicit mappings from the core's values. */
import {
  applicableItems,
  gaps,
  type ApplicableItem,
  type AttestationStatus,
  type Catalog,
  type CatalogEntry,
  type ComponentType,
  type DeviceScore,
  type FactRules,
  type FactValue,
  type FrKey,
  type FrNumber,
  type Gaps,
  type Grade,
  type ItemStatus,
  type LifecycleFinding,
  type ItemScore,
  FR_KEYS,
  type Scorer,
  type SecurityLevel,
  type SlVector,
  type TargetLevels,
  type UncertainDeciders,
} from '../core';
import type { ScoreHistoryEntry } from './hardening.repository';
import type { DeviceAttestationState } from './scoring-inputs';

/** Said of an uncertain catalog entry that came without a note (the shipped catalog has none such). */
export const UNCERTAIN_FALLBACK_NOTE = 'sources disagree on the level at which this item is required; treat the level as provisional';

export interface ScoreItemView {
  id: string;
  fr: FrNumber;
  sl: SecurityLevel;
  title: string;
  status: ItemStatus;
  /** attested, observed, reported or declared; null for missing and not-applicable-by-fact items. */
  grade: Grade | null;
  reason: string;
  rule?: string;
  facts?: readonly FactValue[];
  uncertain?: true;
  note?: string;
  /** Codes of the lifecycle findings on this requirement (see ScoreView.lifecycleFindings). */
  lifecycleFindings?: string[];
}

export interface ScoreView {
  deviceId: string;
  productId: string;
  componentType: ComponentType;
  catalogVersion: string;
  rulesVersion: string;
  /** The vectors are SL-C as configured: what this device, as it is set up now, is shown to reach. */
  label: 'SL-C as configured';
  evidenced: SlVector;
  declared: SlVector;
  /** The product's claimed SL-C (its `targetLevels`); `belowTarget` compares the evidenced vector with it. */
  claimed: TargetLevels;
  /** The same as `claimed` (kept for existing clients). */
  target: TargetLevels;
  belowTarget: boolean;
  /** Whether the report's facts counted as evidence, and why not. */
  report: DeviceScore['report'];
  /** Per FR with no requirement first needed at SL 4: a note that its 4 rests on the SL 3 requirements. */
  sl4Notes: Partial<Record<FrKey, string>>;
  attestation: { status: AttestationStatus; reported: string | null; at: Date | null; affirmedAt: Date | null };
  decidedByUncertain: { evidenced: UncertainDeciders; declared: UncertainDeciders };
  counts: DeviceScore['counts'];
  ignoredDeclarations: readonly string[];
  /** Per FR, the unmet items up to the target in the evidenced vector. */
  gaps: Gaps;
  /** The same in the declared vector (claims not contradicted count as met). */
  gapsDeclared: Gaps;
  items: ScoreItemView[];
  /** Newest first, at most 50. */
  history: Array<{
    at: Date; evidenced: SlVector; declared: SlVector; belowTarget: boolean; cause: string;
    reportId: string | null; attestationResultId: string | null; firmwareRelease: string | null; rulesVersion: string | null; catalogVersion: string | null;
  }>;
  /** When the report scored was received (null: the device has sent none). */
  reportedAt: Date | null;
  /**
   * The 62443-4-1 lifecycle's findings on the attested release (exposed to an advisory, past end of
   * security support or of life, no SBOM), each with the FR and 4-2 requirement it bears on. They
   * do not change the vectors (SL-C as configured); the items they name carry them too.
   */
  lifecycleFindings: LifecycleFinding[];
}

const itemIndex = new WeakMap<Scorer, Map<string, ApplicableItem>>();
function catalogItem(scorer: Scorer, id: string): ApplicableItem | undefined {
  let m = itemIndex.get(scorer);
  if (!m) itemIndex.set(scorer, (m = new Map(scorer.items.map((i) => [i.id, i]))));
  return m.get(id);
}

function toItemView(it: ItemScore, meta: ApplicableItem | undefined): ScoreItemView {
  const note = meta?.note ?? (it.uncertain ? UNCERTAIN_FALLBACK_NOTE : undefined);
  return {
    id: it.id,
    fr: it.fr,
    sl: it.sl,
    title: meta?.title ?? it.id,
    status: it.status,
    grade: it.grade,
    reason: it.reason,
    ...(it.rule ? { rule: it.rule } : {}),
    ...(it.facts ? { facts: it.facts } : {}),
    ...(it.uncertain ? { uncertain: true as const } : {}),
    ...(note ? { note } : {}),
  };
}

const sl4Cache = new WeakMap<Scorer, Partial<Record<FrKey, string>>>();
/** FRs of a scorer's items with no item first required at SL 4. */
export function sl4Notes(scorer: Scorer): Partial<Record<FrKey, string>> {
  let notes = sl4Cache.get(scorer);
  if (!notes) {
    notes = {};
    FR_KEYS.forEach((k, i) => {
      if (!scorer.items.some((it) => it.fr === i + 1 && it.sl === 4)) {
        notes![k] = `no ${scorer.componentType} requirement of ${k} is first needed at SL 4, so its level 4 rests on the requirements up to SL 3`;
      }
    });
    sl4Cache.set(scorer, notes);
  }
  return notes;
}

export function toScoreView(input: {
  deviceId: string;
  productId: string;
  score: DeviceScore;
  scorer: Scorer;
  target: TargetLevels;
  belowTarget: boolean;
  attestation: DeviceAttestationState;
  reportedAt: Date | null;
  history: readonly ScoreHistoryEntry[];
  lifecycleFindings?: readonly LifecycleFinding[];
}): ScoreView {
  const { score, scorer, target } = input;
  const findings = [...(input.lifecycleFindings ?? [])];
  const codesOn = new Map<string, string[]>();
  for (const f of findings) if (f.requirement) codesOn.set(f.requirement, [...new Set([...(codesOn.get(f.requirement) ?? []), f.code])]);
  return {
    deviceId: input.deviceId,
    productId: input.productId,
    componentType: score.componentType,
    catalogVersion: score.catalogVersion,
    rulesVersion: score.rulesVersion,
    label: 'SL-C as configured',
    evidenced: score.evidenced,
    declared: score.declared,
    claimed: target,
    target,
    belowTarget: input.belowTarget,
    report: score.report,
    sl4Notes: sl4Notes(scorer),
    attestation: {
      status: score.attestation.status,
      reported: input.attestation.attestationStatus,
      at: input.attestation.attestationAt,
      affirmedAt: input.attestation.affirmedAt,
    },
    decidedByUncertain: score.decidedByUncertain,
    counts: score.counts,
    ignoredDeclarations: score.ignoredDeclarations,
    gaps: gaps(score, target, 'evidenced'),
    gapsDeclared: gaps(score, target, 'declared'),
    items: score.items.map((it) => {
      const view = toItemView(it, catalogItem(scorer, it.id));
      const codes = codesOn.get(it.id);
      return codes ? { ...view, lifecycleFindings: codes } : view;
    }),
    history: input.history.map((h) => ({
      at: h.at,
      evidenced: h.evidenced,
      declared: h.declared,
      belowTarget: h.belowTarget,
      cause: h.cause,
      reportId: h.reportId,
      attestationResultId: h.attestationResultId,
      firmwareRelease: h.firmwareRelease,
      rulesVersion: h.rulesVersion,
      catalogVersion: h.catalogVersion,
    })),
    reportedAt: input.reportedAt,
    lifecycleFindings: findings,
  };
}

export interface CatalogView {
  version: string;
  standard: string;
  /** The fact rules that map reports to these items. */
  rulesVersion: string;
  /** Every entry as shipped; an uncertain entry or enhancement always carries a note. */
  items: readonly CatalogEntry[];
  /** Ids of the uncertain entries and enhancements, with their notes. */
  uncertain: Array<{ id: string; note: string }>;
  /** With `?componentType=`: the items a component of that type is scored on, flattened. */
  componentType?: ComponentType;
  applicable?: ApplicableItem[];
}

/** The catalog as served: entries unchanged, except that no uncertain entry goes without a note. */
export function toCatalogView(catalog: Catalog, rules: FactRules): CatalogView {
  const uncertain: Array<{ id: string; note: string }> = [];
  const withNote = <T extends { id: string; uncertain?: boolean; note?: string }>(e: T): T => {
    if (!e.uncertain) return e;
    const note = e.note ?? UNCERTAIN_FALLBACK_NOTE;
    uncertain.push({ id: e.id, note });
    return e.note ? e : { ...e, note };
  };
  const items = catalog.items.map((e) => {
    const entry = withNote(e);
    const enhancements = e.enhancements.map(withNote);
    return enhancements.some((re, i) => re !== e.enhancements[i]) ? { ...entry, enhancements } : entry;
  });
  return { version: catalog.version, standard: catalog.standard, rulesVersion: rules.version, items, uncertain };
}

export function withApplicable(view: CatalogView, catalog: Catalog, componentType: ComponentType): CatalogView {
  const applicable = applicableItems(catalog, componentType).map((i) => (i.uncertain && !i.note ? { ...i, note: UNCERTAIN_FALLBACK_NOTE } : i));
  return { ...view, componentType, applicable };
}
