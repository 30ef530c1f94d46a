/**
 * Scoring stored devices: one device (the service's rescore after a report or an attestation
 * result) and the whole fleet in keyset batches (`rescoreAll`) go through the same steps:
 * read device rows with their latest reports, score them with the compiled scorers, write the
 * history entries and the devices' level columns with one multi-row statement per batch.
 */
import type { AttestationInput, DeclaredRequirements, DeviceScore, LifecycleFinding, Scorer, SlVector, TargetLevels } from '../core';
import type { HardeningRepository, ProductScoringRow, ScoreWrite, ScoringSubject } from './hardening.repository';
import { ScorerCache, storedComponentType } from './scorer.cache';
import {
  EMPTY_REPORT,
  isBelowTarget,
  sameVector,
  scoringAttestation,
  summarizeScore,
  toTargetLevels,
  type ScoreCause,
} from './scoring-inputs';

/** A product as scoring needs it: its type's scorer, its resolved declarations, its target. */
export interface ProductScoring {
  productId: string;
  scorer: Scorer;
  declared: DeclaredRequirements;
  target: TargetLevels;
}

export function productScoring(cache: ScorerCache, p: ProductScoringRow): ProductScoring {
  const type = storedComponentType(p.componentType);
  return {
    productId: p.id,
    scorer: cache.scorer(type),
    declared: cache.declaredFor(p.id, type, p.declaredRequirements, p.applicability),
    target: toTargetLevels(p.targetLevels),
  };
}

export interface ScoringClock {
  now: Date;
  /** The attestation interval (AppConfig.attestIntervalSeconds). */
  intervalSeconds: number;
}

/**
 * Scores a stored device: its latest report (or no facts), its attestation state with the
 * firmware it attested, and what the service observed itself.
 */
export function scoreSubject(s: ScoringSubject, p: ProductScoring, clock: ScoringClock, attestation?: AttestationInput): DeviceScore {
  const att = attestation ?? scoringAttestation(s, clock.now, clock.intervalSeconds);
  return p.scorer({
    facts: s.report ?? EMPTY_REPORT,
    attestation: att.firmwareVersion === undefined ? { ...att, firmwareVersion: s.attestedFirmware } : att,
    observed: s.observed,
    reportedAt: s.reportedAt ?? undefined,
    declared: p.declared,
    now: clock.now,
  });
}

/** A device scored now, with the evidence its score rests on (zone assessments and exports). */
export interface ScoredDevice {
  deviceId: string;
  productId: string;
  scorer: Scorer;
  score: DeviceScore;
  evidence: { reportId: string | null; attestationResultId: string | null; firmwareRelease: string | null };
  /** The product's claimed SL-C (its targetLevels). */
  claimed: TargetLevels;
  /** The 62443-4-1 lifecycle's findings on the attested release (lifecycle-findings.ts); empty without a reader. */
  lifecycleFindings: LifecycleFinding[];
}

/** Reads the lifecycle findings of scored devices (by device id), given their products' scorers. */
export type LifecycleFindingsReader = (subjects: readonly ScoringSubject[], scorerOf: ReadonlyMap<string, Scorer>) => Promise<Map<string, LifecycleFinding[]>>;

/**
 * Scores stored devices now, without writing anything, in the order given (missing ids are
 * skipped): one query for the devices with their latest reports, one for the products not yet in
 * `products` (a batch loop passes the same map, so each product is read once), and with
 * `findingsOf` one read of their lifecycle findings.
 */
export async function scoreStoredDevices(
  repo: HardeningRepository,
  cache: ScorerCache,
  deviceIds: readonly string[],
  products: Map<string, ProductScoringRow>,
  clock: ScoringClock,
  findingsOf?: LifecycleFindingsReader,
): Promise<ScoredDevice[]> {
  const subjects = await repo.subjects(deviceIds);
  const wanted = [...new Set(subjects.map((s) => s.productId))].filter((id) => !products.has(id));
  if (wanted.length) for (const p of await repo.products(wanted)) products.set(p.id, p);
  const byId = new Map(subjects.map((s) => [s.deviceId, s]));
  // Each product resolved once per call, not per device (declaredFor keys its cache by the whole declaration).
  const scoring = new Map<string, ProductScoring>();
  const scorerOf = new Map<string, Scorer>();
  for (const s of subjects) {
    const product = products.get(s.productId);
    if (product && !scoring.has(s.productId)) {
      const p = productScoring(cache, product);
      scoring.set(s.productId, p);
      scorerOf.set(s.productId, p.scorer);
    }
  }
  // One call for the batch (the lifecycle's exposure, support dates and SBOMs of these releases).
  const findings = findingsOf ? await findingsOf(subjects, scorerOf) : new Map<string, LifecycleFinding[]>();
  const out: ScoredDevice[] = [];
  for (const id of deviceIds) {
    const s = byId.get(id);
    const p = s && scoring.get(s.productId);
    if (!s || !p) continue;
    out.push({
      deviceId: id,
      productId: s.productId,
      scorer: p.scorer,
      score: scoreSubject(s, p, clock),
      evidence: { reportId: s.reportId, attestationResultId: s.attestationResultId, firmwareRelease: s.attestedFirmware },
      claimed: p.target,
      lifecycleFindings: findings.get(id) ?? [],
    });
  }
  return out;
}

/** A device whose stored levels changed, for events. */
export interface ScoreChange {
  deviceId: string;
  /** The device's manufacturer and operator organizations. */
  audience: Array<string | null>;
  cause: ScoreCause;
  evidenced: SlVector;
  declared: SlVector;
  belowTarget: boolean;
  target: TargetLevels;
  previous: { evidenced: Record<string, number> | null; declared: Record<string, number> | null; belowTarget: boolean | null };
  /** Was not below target (or not scored) before, is now. */
  becameBelowTarget: boolean;
}

/**
 * What to write for a scored device. The level columns change only when a level or the
 * below-target flag changed; a history entry is written then too, and for every new report (the
 * history records each report's outcome, not every unchanged re-appraisal), or always with
 * `forceHistory`.
 */
export function planWrite(
  s: ScoringSubject,
  score: DeviceScore,
  target: TargetLevels,
  cause: ScoreCause,
  forceHistory = false,
): { write: ScoreWrite; change: ScoreChange | null } {
  const belowTarget = isBelowTarget(score.evidenced, target);
  const changed = !sameVector(score.evidenced, s.slEvidenced) || !sameVector(score.declared, s.slDeclared) || s.belowTarget !== belowTarget;
  const write: ScoreWrite = {
    deviceId: s.deviceId,
    evidenced: score.evidenced,
    declared: score.declared,
    items: summarizeScore(score),
    belowTarget,
    cause,
    history: changed || forceHistory || cause === 'report',
    update: changed,
    reportId: s.reportId,
    attestationVersion: s.attestationVersion,
    attestationResultId: s.attestationResultId,
    firmwareRelease: s.attestedFirmware,
    rulesVersion: score.rulesVersion,
    catalogVersion: score.catalogVersion,
  };
  const change: ScoreChange | null = changed
    ? {
        deviceId: s.deviceId,
        audience: [s.manufacturerOrgId, s.operatorOrgId],
        cause,
        evidenced: score.evidenced,
        declared: score.declared,
        belowTarget,
        target,
        previous: { evidenced: s.slEvidenced, declared: s.slDeclared, belowTarget: s.belowTarget },
        becameBelowTarget: belowTarget && s.belowTarget !== true,
      }
    : null;
  return { write, change };
}

export interface RescoreAllOptions {
  clock?: () => ScoringClock;
  intervalSeconds: number;
  cause?: ScoreCause;
  /** Devices per batch (default 2000). */
  batchSize?: number;
  /** Batches read ahead of the one being scored (default 2). */
  readAhead?: number;
  /** Batch writes in flight at most (default 2). */
  writeAhead?: number;
  /** Write a history entry for every device, changed or not. */
  forceHistory?: boolean;
  /** Called after each batch is written, with the devices whose levels changed. */
  onChanges?: (changes: ScoreChange[]) => void | Promise<void>;
}

export interface RescoreAllResult {
  devices: number;
  written: number;
  changed: number;
  batches: number;
  ms: number;
}

/**
 * Rescores every active device in keyset batches (id ranges whose bounds come from one pass over
 * the primary key), products resolved once per run, one write statement per batch. The stages
 * overlap: while batch N is scored here, the database reads the next batches (`readAhead` at a
 * time) and writes the previous ones (`writeAhead` at a time), so memory stays at a few batches.
 */
export async function rescoreAll(repo: HardeningRepository, cache: ScorerCache, options: RescoreAllOptions): Promise<RescoreAllResult> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 2000;
  const readAhead = options.readAhead ?? 2;
  const writeAhead = options.writeAhead ?? 2;
  const cause = options.cause ?? 'rescore-all';
  const clockOf = options.clock ?? (() => ({ now: new Date(), intervalSeconds: options.intervalSeconds }));
  const products = new Map<string, ProductScoring>();
  const totals = { devices: 0, written: 0, changed: 0, batches: 0 };
  // Started now, awaited later: until then a failure must not count as unhandled.
  const early = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return p;
  };

  // Writes of different batches touch different devices, so they may overlap; their changes are
  // reported in batch order all the same.
  let reported: Promise<void> = Promise.resolve();
  const write = async (writes: ScoreWrite[], changes: ScoreChange[]): Promise<void> => {
    const written = repo.writeScores(writes);
    const previous = reported;
    reported = (async () => {
      const done = await written;
      await previous;
      const landed = changes.filter((c) => done.has(c.deviceId));
      totals.written += done.size;
      totals.changed += landed.length;
      if (landed.length && options.onChanges) await options.onChanges(landed);
    })();
    await reported;
  };

  const starts = await repo.activeBatchStarts(batchSize);
  const reads: Promise<ScoringSubject[]>[] = [];
  let nextBatch = 0;
  const readMore = () => {
    while (reads.length < readAhead && nextBatch < starts.length) {
      const i = nextBatch++;
      reads.push(early(repo.activeSubjectsBetween(starts[i], starts[i + 1] ?? null)));
    }
  };
  const writing: Promise<void>[] = [];
  readMore();
  try {
    while (reads.length) {
      const subjects = await reads.shift()!;
      readMore();
      if (!subjects.length) continue;
      const missing = [...new Set(subjects.map((s) => s.productId))].filter((id) => !products.has(id));
      if (missing.length) for (const p of await repo.products(missing)) products.set(p.id, productScoring(cache, p));

      const clock = clockOf();
      const writes: ScoreWrite[] = [];
      const changes: ScoreChange[] = [];
      for (const s of subjects) {
        const p = products.get(s.productId);
        if (!p) continue;
        const plan = planWrite(s, scoreSubject(s, p, clock), p.target, cause, options.forceHistory);
        if (!plan.write.history && !plan.write.update) continue;
        writes.push(plan.write);
        if (plan.change) changes.push(plan.change);
      }
      totals.devices += subjects.length;
      totals.batches++;
      if (writing.length >= writeAhead) await writing.shift();
      if (writes.length) writing.push(early(write(writes, changes)));
    }
    while (writing.length) await writing.shift();
  } finally {
    // On a failure, let the other stages settle before the caller moves on (or closes the pool).
    await Promise.allSettled([...reads, ...writing]);
  }
  return { ...totals, ms: performance.now() - started };
}
