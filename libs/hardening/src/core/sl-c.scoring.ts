/**
 * SL-C scoring of one device ("SL-C as configured"): every catalog item gets a status from the
 * fact rules, the attestation result, the service's own observations and the product's declared
 * requirements and statement of applicability, and two SL-C vectors follow.
 *
 * Status, in order of precedence:
 *   not-applicable  the product's statement of applicability says so (with a justification) and
 *                   neither the facts nor the service's observations show the item's `appliesIf`
 *                   condition holding; a device's own facts can never make an item not applicable
 *   contradicted    a fact, an observation or the attestation contradicts it (even when declared;
 *                   a reported weakness counts even from a report that does not count as evidence)
 *   evidenced       attestation, observations or counted reported facts show it is met
 *   declared        the product claims it and nothing contradicts it
 *   missing         none of the above
 *
 * A device's reported facts count as evidence only while its attestation (after the staleness
 * rule) is affirming, its report is fresh (`maxReportAgeSeconds`, by the time the service received
 * it and the device's own `reportedAt`) and the report names the attested firmware version.
 * Otherwise every item that needed a reported fact falls back to declared or missing, in every FR.
 * Each item carries a grade (observed-facts.ts): attested, observed, reported or declared.
 *
 * SL-C(FR) = the largest n ≤ 4 such that every applicable item of the FR with sl ≤ n is met; 0 if
 * a level-1 item is unmet (i.e. one less than the lowest level of an unmet item). In the
 * `evidenced` vector only evidenced items are met; in the `declared` vector evidenced and declared
 * items are. An FR with no applicable items is vacuously 4.
 *
 * `createScorer` does all the work that depends only on (catalog, rules, component type) once,
 * including compiling the rules into a flat program (fact-rules.program.ts). Scoring a device
 * computes statuses, counts and both vectors eagerly; the per-item detail (`items`: reasons and
 * deciding facts) is built on first access, from the same facts, so scoring a fleet for its
 * vectors does not pay for 80-odd reason strings per device.
 */
import { invalid } from '@fleetguard/common';
import {
  applicableItems,
  assertComponentType,
  catalogIds,
  FR_KEYS,
  loadCatalog,
  type ApplicableItem,
  type Catalog,
  type ComponentType,
  type FrKey,
  type FrNumber,
  type SecurityLevel,
  type SlValue,
  type SlVector,
} from './catalog';
import { ATTESTATION_STATUSES, explainCondition, type AttestationStatus, type FactValue, type PreparedCondition } from './fact-condition.evaluator';
import { compileFactRules, formatFacts, loadFactRules, type CompiledFactRule, type FactRules, type ReasonTemplate } from './fact-rules';
import { compileFactProgram, type FactProgram } from './fact-rules.program';
import type { HardeningReport } from './hardening-report.schema';
import { NO_OBSERVED, OBSERVED_NAMESPACE, scoringFactsShape, withObserved, type Grade, type ObservedFacts } from './observed-facts';

export const ITEM_STATUSES = ['evidenced', 'declared', 'contradicted', 'missing', 'not-applicable'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];
export type ScoreVectorName = 'evidenced' | 'declared';

export interface AttestationInput {
  status: AttestationStatus;
  /** When the attestation was appraised (ISO date-time, epoch ms or Date). */
  at?: string | number | Date;
  /** The firmware version the latest affirming appraisal attested; a report must name it to count. */
  firmwareVersion?: string | null;
}

/** One entry of a product's statement of applicability. */
export interface ApplicabilityStatement {
  requirement: string;
  applicable: boolean;
  justification: string;
}

/** Why a report's facts do not count as evidence (null: they count). */
export type ReportFallback = 'no-report' | 'attestation-not-affirming' | 'stale-report' | 'firmware-mismatch';

/** A product's declared requirements, resolved once per scorer (`scorer.declare(ids)`). */
export interface DeclaredRequirements {
  readonly componentType: ComponentType;
  /** The ids as given. */
  readonly ids: readonly string[];
  /** Ids that exist in the catalog but are not scored for this component type. */
  readonly ignored: readonly string[];
  /** The statement of applicability: scored item id → justification, for the items it makes not applicable. */
  readonly notApplicable: ReadonlyMap<string, string>;
  /** @internal one flag per scorer item */
  readonly mask: Uint8Array;
  /** @internal one flag per scorer item: the statement of applicability says not applicable */
  readonly naMask: Uint8Array;
}

export interface ScoreInput {
  facts: HardeningReport;
  /** Absent = `{status: 'none'}`. */
  attestation?: AttestationInput;
  /** The product's declared requirement ids (a delegated CR id such as `CR 3.14` stands for this component type's item). */
  declared?: readonly string[] | DeclaredRequirements;
  /** What the service has seen itself (mutual TLS, negotiated TLS, TPM quote, renewals). */
  observed?: ObservedFacts;
  /** When the service received the report (for `maxReportAgeSeconds`). */
  reportedAt?: string | number | Date;
  /** Reference time for attestation staleness (default: now). */
  now?: number | Date;
}

export interface ItemScore {
  readonly id: string;
  readonly fr: FrNumber;
  readonly sl: SecurityLevel;
  readonly status: ItemStatus;
  /** The source the status rests on (null for missing and not-applicable items). */
  readonly grade: Grade | null;
  /** Plain words: what decided the status. */
  readonly reason: string;
  /** The fact rule that decided it (evidenced / contradicted), or the rule that could have. */
  readonly rule: string | undefined;
  /**
   * The facts behind the status, with their values: for evidenced, contradicted and not-applicable
   * those that decided it; for declared and missing those the rule lacks (absent or not yet
   * settling it). Undefined when no rule covers the item.
   */
  readonly facts: readonly FactValue[] | undefined;
  /** The catalog marks the item's level as uncertain. */
  readonly uncertain: true | undefined;
}

/**
 * Per FR, the unmet items the catalog marks `uncertain` that bind the level: were the item met (or
 * not required at its listed level, as one of the disagreeing sources says), the FR's level would
 * be higher. A met item never binds a level, whatever its SL, so met uncertain items are not listed.
 */
export type UncertainDeciders = Partial<Record<FrKey, string[]>>;

export interface DeviceScore {
  readonly componentType: ComponentType;
  readonly catalogVersion: string;
  readonly rulesVersion: string;
  /** The attestation status used: `stale` when older than `maxAttestationAgeSeconds`. */
  readonly attestation: { readonly status: AttestationStatus; readonly reported: AttestationStatus; readonly at?: string };
  /** Whether the device's reported facts counted as evidence, and why not. */
  readonly report: { readonly counts: boolean; readonly fallback: ReportFallback | null };
  /** SL-C per FR counting only evidenced items as met. */
  readonly evidenced: SlVector;
  /** SL-C per FR counting evidenced and declared (not contradicted) items as met. */
  readonly declared: SlVector;
  readonly decidedByUncertain: { readonly evidenced: UncertainDeciders; readonly declared: UncertainDeciders };
  /** How many items have each status. */
  readonly counts: Readonly<Record<ItemStatus, number>>;
  /** Declared ids that are not scored for this component type (other types' items, CR 2.3 ...). */
  readonly ignoredDeclarations: readonly string[];
  /**
   * Every scored item with its status and reason, in catalog order. Built on first access from the
   * facts given to the scorer (which are read again then, so do not mutate them in between).
   */
  readonly items: readonly ItemScore[];
  /**
   * Statuses and grades of every scored item (scorer order), without reasons: what an assessment
   * export needs for many devices. Grades as `items` gives them, read from each rule's facts.
   */
  table(): ItemTable;
  /** A plain object with every field, `items` included (what JSON.stringify writes). */
  toJSON(): DeviceScoreJson;
}

export interface ItemTable {
  readonly statuses: readonly ItemStatus[];
  readonly grades: readonly (Grade | null)[];
}

export type DeviceScoreJson = Omit<DeviceScore, 'toJSON' | 'table'>;

export interface ScorerOptions {
  /** An attestation older than this (by `at`) counts as `stale`. Unset: only the reported status counts. */
  maxAttestationAgeSeconds?: number;
  /** A report older than this (by `reportedAt`, and the report's own `reportedAt`) does not count. Unset: no age limit. */
  maxReportAgeSeconds?: number;
}

export interface Scorer {
  (input: ScoreInput): DeviceScore;
  readonly componentType: ComponentType;
  readonly catalogVersion: string;
  readonly rulesVersion: string;
  /** The items scored, in output order. */
  readonly items: readonly ApplicableItem[];
  /**
   * Resolves declared ids and the statement of applicability once for many devices; throws
   * `hardening.unknown-requirement`, `hardening.invalid-applicability`.
   */
  declare(ids: readonly string[], applicability?: readonly ApplicabilityStatement[]): DeclaredRequirements;
}

// Status codes in the hot loop; EVIDENCED and CONTRADICTED equal the program's outcomes.
const NA = 0;
const EVIDENCED = 1;
const DECLARED = 2;
const CONTRADICTED = 3;
const MISSING = 4;
const STATUS_NAMES: readonly ItemStatus[] = ['not-applicable', 'evidenced', 'declared', 'contradicted', 'missing'];
const TRUE = 2;
const MAX_JUSTIFICATION = 2000;

interface PlanItem {
  readonly item: ApplicableItem;
  readonly frIdx: number;
  readonly sl: number;
  /** Index into plan.applicability, or -1. */
  readonly appliesIdx: number;
  /** Index into plan.rules, or -1. */
  readonly ruleIdx: number;
  readonly rule: CompiledFactRule | undefined;
  readonly uncertain: true | undefined;
  /** The rule's evidenced / contradicting condition reads an observed fact (so a trusted status is `observed`, else `attested`). */
  readonly evidencedReadsObserved: boolean;
  readonly contradictedReadsObserved: boolean;
  /** The item has an `appliesIf` condition (so a statement of applicability may exclude it). */
  readonly conditional: boolean;
  /** For an RE: the plan index of its CR, when the RE inherits the CR's applicability; else -1. */
  readonly inheritsFrom: number;
}

interface Plan {
  readonly items: readonly PlanItem[];
  readonly applicability: readonly { text: string; cond: PreparedCondition }[];
  readonly program: FactProgram;
  /** Per FR, the plan indices of its items. */
  readonly byFr: readonly (readonly number[])[];
  /** Per FR, the plan indices of its uncertain items. */
  readonly uncertainByFr: readonly (readonly number[])[];
  readonly hasUncertain: boolean;
  /** The same per item, as typed arrays for the hot loops. */
  readonly itemApplies: Int32Array;
  readonly itemRule: Int32Array;
  readonly itemFr: Uint8Array;
  readonly itemSl: Uint8Array;
  /** id (and delegated CR alias) → plan index; -1 for catalog ids not scored for this type. */
  readonly index: ReadonlyMap<string, number>;
  /** Rule outcomes on the observations alone, by (attestation, observations): a fleet has few distinct ones. */
  readonly trustedCache: Map<string, Uint8Array>;
}

function buildPlan(catalog: Catalog, rules: FactRules, componentType: ComponentType): Plan {
  const compiled = compileFactRules(rules, catalog);
  const list = applicableItems(catalog, componentType);
  const applicability: { text: string; cond: PreparedCondition }[] = [];
  const appliesIndex = new Map<string, number>();
  const ruleList: CompiledFactRule[] = [];
  const ruleIndex = new Map<CompiledFactRule, number>();
  const items: PlanItem[] = list.map((item) => {
    let appliesIdx = -1;
    if (item.appliesIf) {
      const cond = compiled.applicability.get(item.appliesIf);
      if (cond) {
        appliesIdx = appliesIndex.get(item.appliesIf) ?? -1;
        if (appliesIdx < 0) {
          appliesIdx = applicability.push({ text: item.appliesIf, cond }) - 1;
          appliesIndex.set(item.appliesIf, appliesIdx);
        }
      }
    }
    const rule = compiled.byItem.get(item.id);
    let ruleIdx = -1;
    if (rule) {
      ruleIdx = ruleIndex.get(rule) ?? -1;
      if (ruleIdx < 0) {
        ruleIdx = ruleList.push(rule) - 1;
        ruleIndex.set(rule, ruleIdx);
      }
    }
    return {
      item,
      frIdx: item.fr - 1,
      sl: item.sl,
      appliesIdx,
      ruleIdx,
      rule,
      uncertain: item.uncertain,
      evidencedReadsObserved: !!rule && rule.evidenced.reads.some((r) => r.startsWith(OBSERVED_NAMESPACE + '.')),
      contradictedReadsObserved: !!rule && (rule.contradicted ?? rule.evidenced).reads.some((r) => r.startsWith(OBSERVED_NAMESPACE + '.')),
      conditional: item.appliesIf !== undefined,
      inheritsFrom: -1,
    };
  });
  const position = new Map(items.map((p, i) => [p.item.id, i]));
  items.forEach((p, i) => {
    const parent = p.item.parent === undefined ? undefined : position.get(p.item.parent);
    if (parent !== undefined && p.item.appliesIf !== undefined && p.item.appliesIf === items[parent].item.appliesIf) {
      items[i] = { ...p, inheritsFrom: parent };
    }
  });
  const program = compileFactProgram(
    ruleList.map((r) => ({ evidenced: r.evidenced.source, contradicted: r.contradicted?.source })),
    applicability.map((a) => a.cond.source),
    scoringFactsShape(),
  );
  const byFr: number[][] = FR_KEYS.map(() => []);
  const uncertainByFr: number[][] = FR_KEYS.map(() => []);
  items.forEach((p, i) => {
    byFr[p.frIdx].push(i);
    if (p.uncertain) uncertainByFr[p.frIdx].push(i);
  });
  const index = new Map<string, number>();
  for (const id of catalogIds(catalog)) index.set(id, -1);
  items.forEach((p, i) => index.set(p.item.id, i));
  for (const e of catalog.items) {
    // A placeholder CR id stands for this component type's delegate, when it has one.
    const own = e.delegatedTo?.find((d) => (index.get(d) ?? -1) >= 0);
    if (own) index.set(e.id, index.get(own)!);
  }
  return {
    items,
    applicability,
    program,
    byFr,
    uncertainByFr,
    hasUncertain: uncertainByFr.some((u) => u.length > 0),
    itemApplies: Int32Array.from(items, (p) => p.appliesIdx),
    itemRule: Int32Array.from(items, (p) => p.ruleIdx),
    itemFr: Uint8Array.from(items, (p) => p.frIdx),
    itemSl: Uint8Array.from(items, (p) => p.sl),
    index,
    trustedCache: new Map(),
  };
}

function toEpochMs(v: string | number | Date, what: string): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw invalid('hardening.invalid-attestation', `${what} is not a valid time: ${String(v)}`);
  return ms;
}

const NO_FACTS = Object.freeze({});
const TRUSTED_CACHE_MAX = 4096;

/** The key of (attestation, observations): every observed fact in a fixed order. */
function observedKey(att: AttestationStatus, o: ObservedFacts): string {
  return `${att}|${o.hardeningReport}|${o.mutualTls}|${o.fleetguardCertificate}|${o.certificateRenewed}|${o.tlsVersions?.join(',')}|${o.aeadCiphers}|${o.tpmResidentKey}|${o.firmwareUpdated}`;
}

/** The rule outcomes on the observations and the attestation alone (cached; do not mutate). */
function trustedOutcomes(plan: Plan, att: AttestationStatus, observed: ObservedFacts): Uint8Array {
  const key = observedKey(att, observed);
  let out = plan.trustedCache.get(key);
  if (!out) {
    plan.program.run(NO_FACTS, att, observed);
    out = Uint8Array.from(plan.program.outcomes);
    if (plan.trustedCache.size >= TRUSTED_CACHE_MAX) plan.trustedCache.clear();
    plan.trustedCache.set(key, out);
  }
  return out;
}

/**
 * Runs the program and fills `statuses` (plan order). With `counts` false the reported facts do
 * not count as evidence: the program runs a second time on the observations alone, and an item
 * evidenced only with the report falls back (its index is set in `fellBack` when given).
 * Contradictions from the report stand either way.
 */
function computeStatuses(
  plan: Plan,
  facts: object,
  att: AttestationStatus,
  observed: ObservedFacts,
  declared: DeclaredRequirements,
  counts: boolean,
  statuses: Uint8Array,
  fellBack?: Uint8Array,
): void {
  const { program, itemApplies, itemRule } = plan;
  const { mask, naMask } = declared;
  program.run(facts, att, observed);
  const outcomes = program.outcomes;
  const applies = program.applies;
  for (let i = 0; i < statuses.length; i++) {
    const a = itemApplies[i];
    if (naMask[i] === 1 && !(a >= 0 && applies[a] === TRUE)) statuses[i] = NA;
    else {
      const r = itemRule[i];
      const o = r >= 0 ? outcomes[r] : 0;
      statuses[i] = o !== 0 ? o : mask[i] === 1 ? DECLARED : MISSING;
    }
  }
  if (counts) return;
  const trusted = trustedOutcomes(plan, att, observed);
  for (let i = 0; i < statuses.length; i++) {
    if (statuses[i] !== EVIDENCED || trusted[itemRule[i]] === EVIDENCED) continue;
    statuses[i] = mask[i] === 1 ? DECLARED : MISSING;
    if (fellBack) fellBack[i] = 1;
  }
}

const FALLBACK_WORDS: Record<ReportFallback, string> = {
  'no-report': 'the device has sent no report',
  'attestation-not-affirming': 'its latest appraisal is not affirming',
  'stale-report': 'the report is older than the maximum report age',
  'firmware-mismatch': 'the report does not name the attested firmware version',
};

/** The grade of a status decided by a rule, from the facts that decided it. */
function gradeOf(decided: readonly FactValue[]): Grade {
  let observed = false;
  for (const f of decided) {
    if (f.fact === 'attestation.status') continue;
    if (f.fact.startsWith(OBSERVED_NAMESPACE + '.')) observed = true;
    else return 'reported';
  }
  return observed ? 'observed' : 'attested';
}

/** The per-item detail for one device: statuses again, then grades, reasons and deciding facts. */
function describeItems(
  plan: Plan,
  rawFacts: object,
  att: AttestationStatus,
  observed: ObservedFacts,
  declared: DeclaredRequirements,
  fallback: ReportFallback | null,
): ItemScore[] {
  const n = plan.items.length;
  const statuses = new Uint8Array(n);
  const fellBack = new Uint8Array(n);
  computeStatuses(plan, rawFacts, att, observed, declared, fallback === null, statuses, fellBack);
  // What the observations alone (with the attestation) evidence: those items are not `reported`.
  const trustedOutcome = trustedOutcomes(plan, att, observed);
  const facts = withObserved(rawFacts, observed);
  const observedOnly = withObserved(NO_FACTS, observed);
  const out: ItemScore[] = new Array(n);
  const render = (t: ReasonTemplate) => t.fixed ?? t.render(facts, att);
  for (let i = 0; i < n; i++) {
    const p = plan.items[i];
    const s = statuses[i];
    const r = p.rule;
    let reason: string;
    let decidedBy: FactValue[] | undefined;
    let grade: Grade | null = null;
    if (s === NA) {
      const justification = declared.notApplicable.get(p.item.id) ?? '';
      const a = p.appliesIdx >= 0 ? plan.applicability[p.appliesIdx] : undefined;
      decidedBy = a ? explainCondition(a.cond, facts, att).facts : undefined;
      reason = `not applicable by the product's statement of applicability: ${justification}` + (a && decidedBy?.length ? ` (nothing shows "${a.text}": ${formatFacts(decidedBy)})` : '');
      out[i] = { id: p.item.id, fr: p.item.fr, sl: p.item.sl, status: 'not-applicable', grade: 'declared', reason, rule: undefined, facts: decidedBy, uncertain: p.uncertain };
      continue;
    }
    const overruled = declared.naMask[i] === 1 && p.appliesIdx >= 0 ? `; applicable although the product says not: "${plan.applicability[p.appliesIdx].text}" holds` : '';
    if (!r) {
      reason = s === DECLARED ? 'declared by the product; no fact rule covers it' : 'not declared; no fact rule covers it';
      if (s === DECLARED) grade = 'declared';
    } else if (s === CONTRADICTED) {
      decidedBy = explainCondition(r.contradicted ?? r.evidenced, facts, att).facts;
      reason = `${render(r.reasons.contradicted)} (${formatFacts(decidedBy)})`;
      // Shown by the observations or the attestation alone: that grade, whatever the report adds.
      grade = trustedOutcome[p.ruleIdx] === CONTRADICTED ? gradeOf(explainCondition(r.contradicted ?? r.evidenced, observedOnly, att).facts) : 'reported';
    } else if (s === EVIDENCED) {
      const trusted = trustedOutcome[p.ruleIdx] === EVIDENCED;
      decidedBy = explainCondition(r.evidenced, trusted ? observedOnly : facts, att).facts;
      reason = `${render(r.reasons.evidenced)} (${formatFacts(decidedBy)})`;
      grade = trusted ? gradeOf(decidedBy) : 'reported';
    } else {
      // Declared or missing: the facts it still lacks, or the reported facts that did not count.
      decidedBy = explainCondition(r.evidenced, facts, att).facts;
      const shown = formatFacts(decidedBy);
      const lead = s === DECLARED ? 'declared by the product' : 'not declared';
      reason =
        fellBack[i] === 1
          ? `${lead}; the device reports it (${shown}), but its report does not count: ${FALLBACK_WORDS[fallback!]}`
          : `${lead}, and the facts do not show it (${shown})`;
      if (s === DECLARED) grade = 'declared';
    }
    out[i] = { id: p.item.id, fr: p.item.fr, sl: p.item.sl, status: STATUS_NAMES[s], grade, reason: reason + overruled, rule: r?.id, facts: decidedBy, uncertain: p.uncertain };
  }
  return out;
}

const GRADE_ATTESTED: Grade = 'attested';
/** Bytes per slab of scores' status codes (about 190 scores of 83 items). */
const SLAB_BYTES = 16 * 1024;

/** Statuses and grades without reasons: the trusted run decides observed/attested against reported. */
function itemTable(plan: Plan, codes: Uint8Array, at: number, att: AttestationStatus, observed: ObservedFacts): ItemTable {
  const n = plan.items.length;
  const trusted = trustedOutcomes(plan, att, observed);
  const statuses: ItemStatus[] = new Array(n);
  const grades: (Grade | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = codes[at + i];
    statuses[i] = STATUS_NAMES[c];
    const p = plan.items[i];
    if (c === EVIDENCED || c === CONTRADICTED) {
      const viaObserved = c === EVIDENCED ? p.evidencedReadsObserved : p.contradictedReadsObserved;
      grades[i] = trusted[p.ruleIdx] === c ? (viaObserved ? 'observed' : GRADE_ATTESTED) : 'reported';
    } else grades[i] = c === DECLARED || c === NA ? 'declared' : null;
  }
  return { statuses, grades };
}

class Score implements DeviceScore {
  // What the lazy `items` needs; private fields stay out of JSON, equality checks and logs.
  readonly #plan: Plan;
  readonly #facts: object;
  readonly #observed: ObservedFacts;
  readonly #declared: DeclaredRequirements;
  /** The status codes the levels were computed from (plan order, from `#at` in a shared slab): table() reads them, not the facts again. */
  readonly #codes: Uint8Array;
  readonly #at: number;
  #detail: readonly ItemScore[] | undefined;

  constructor(
    plan: Plan,
    codes: Uint8Array,
    at: number,
    facts: object,
    observed: ObservedFacts,
    product: DeclaredRequirements,
    readonly componentType: ComponentType,
    readonly catalogVersion: string,
    readonly rulesVersion: string,
    readonly attestation: { readonly status: AttestationStatus; readonly reported: AttestationStatus; readonly at?: string },
    readonly report: { readonly counts: boolean; readonly fallback: ReportFallback | null },
    readonly evidenced: SlVector,
    readonly declared: SlVector,
    readonly decidedByUncertain: { readonly evidenced: UncertainDeciders; readonly declared: UncertainDeciders },
    readonly counts: Readonly<Record<ItemStatus, number>>,
    readonly ignoredDeclarations: readonly string[],
  ) {
    this.#plan = plan;
    this.#codes = codes;
    this.#at = at;
    this.#facts = facts;
    this.#observed = observed;
    this.#declared = product;
  }

  get items(): readonly ItemScore[] {
    return (this.#detail ??= Object.freeze(
      describeItems(this.#plan, this.#facts, this.attestation.status, this.#observed, this.#declared, this.report.fallback),
    ));
  }

  table(): ItemTable {
    return itemTable(this.#plan, this.#codes, this.#at, this.attestation.status, this.#observed);
  }

  toJSON(): DeviceScoreJson {
    return {
      componentType: this.componentType,
      catalogVersion: this.catalogVersion,
      rulesVersion: this.rulesVersion,
      attestation: this.attestation,
      report: this.report,
      evidenced: this.evidenced,
      declared: this.declared,
      decidedByUncertain: this.decidedByUncertain,
      counts: this.counts,
      ignoredDeclarations: this.ignoredDeclarations,
      items: this.items,
    };
  }
}

/**
 * Precompiles scoring for one component type: applicable items, their rules and applicability
 * conditions. Throws `hardening.invalid-rules` / `hardening.invalid-component-type`.
 */
export function createScorer(
  catalog: Catalog,
  rules: FactRules,
  componentType: ComponentType,
  options: ScorerOptions = {},
): Scorer {
  assertComponentType(componentType);
  const plan = buildPlan(catalog, rules, componentType);
  const { items } = plan;
  const n = items.length;
  const maxAgeMs = options.maxAttestationAgeSeconds === undefined ? undefined : options.maxAttestationAgeSeconds * 1000;
  if (maxAgeMs !== undefined && !(maxAgeMs >= 0)) {
    throw invalid('hardening.invalid-options', 'maxAttestationAgeSeconds must be a non-negative number');
  }
  const maxReportAgeMs = options.maxReportAgeSeconds === undefined ? undefined : options.maxReportAgeSeconds * 1000;
  if (maxReportAgeMs !== undefined && !(maxReportAgeMs >= 0)) {
    throw invalid('hardening.invalid-options', 'maxReportAgeSeconds must be a non-negative number');
  }
  const statuses = new Uint8Array(n);
  // Scores' status codes, each score's n bytes at its offset (a slab is kept while any of its scores is).
  let slab = new Uint8Array(0);
  let slabAt = 0;
  const frozenCache = new WeakMap<readonly string[], DeclaredRequirements>();
  const noDeclared = declare([]);
  const minE = new Int32Array(7);
  const minD = new Int32Array(7);
  const frozenAttestation = new Map<AttestationStatus, DeviceScore['attestation']>(
    ATTESTATION_STATUSES.map((s) => [s, Object.freeze({ status: s, reported: s })]),
  );
  const EMPTY: UncertainDeciders = Object.freeze({});
  const NO_UNCERTAIN = Object.freeze({ evidenced: EMPTY, declared: EMPTY });

  function declare(ids: readonly string[], applicability: readonly ApplicabilityStatement[] = []): DeclaredRequirements {
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) {
      throw invalid('hardening.invalid-declared', 'declared requirements must be a list of catalog ids');
    }
    const { naMask, notApplicable } = resolveApplicability(applicability);
    const mask = new Uint8Array(n);
    const unknown: string[] = [];
    const ignored: string[] = [];
    for (const id of ids) {
      const i = plan.index.get(id);
      if (i === undefined) unknown.push(id);
      else if (i < 0) ignored.push(id);
      else mask[i] = 1;
    }
    if (unknown.length) {
      throw invalid(
        'hardening.unknown-requirement',
        `not in catalog ${catalog.version}: ${unknown.slice(0, 20).map((x) => JSON.stringify(x)).join(', ')}`,
        { unknown },
      );
    }
    return Object.freeze({ componentType, ids: Object.freeze([...ids]), ignored: Object.freeze(ignored), notApplicable, mask, naMask });
  }

  /**
   * A statement of applicability: only items with an `appliesIf` condition may be declared not
   * applicable, each with a justification; a CR's entry covers the REs that share its condition.
   */
  function resolveApplicability(list: readonly ApplicabilityStatement[]): { naMask: Uint8Array; notApplicable: ReadonlyMap<string, string> } {
    const naMask = new Uint8Array(n);
    const notApplicable = new Map<string, string>();
    if (!Array.isArray(list)) throw invalid('hardening.invalid-applicability', 'the statement of applicability must be a list');
    const problems: string[] = [];
    const seen = new Set<string>();
    list.forEach((e, k) => {
      const at = typeof e?.requirement === 'string' ? e.requirement : `entry ${k}`;
      if (typeof e !== 'object' || e === null || typeof e.requirement !== 'string') return void problems.push(`entry ${k} needs a requirement id`);
      if (typeof e.applicable !== 'boolean') problems.push(`${at}: applicable must be true or false`);
      if (typeof e.justification !== 'string' || !e.justification.trim() || e.justification.length > MAX_JUSTIFICATION) {
        problems.push(`${at}: a justification of 1..${MAX_JUSTIFICATION} characters is required`);
      }
      if (seen.has(e.requirement)) problems.push(`${at} is listed twice`);
      seen.add(e.requirement);
      const i = plan.index.get(e.requirement);
      if (i === undefined) return void problems.push(`${at} is not in catalog ${catalog.version}`);
      if (i < 0) return void problems.push(`${at} is not scored for ${componentType} components`);
      if (e.applicable !== false) return;
      if (!items[i].conditional) {
        return void problems.push(`${at} applies to every ${componentType} component (it has no applicability condition), so it cannot be declared not applicable`);
      }
      naMask[i] = 1;
      notApplicable.set(items[i].item.id, e.justification);
    });
    if (problems.length) {
      throw invalid('hardening.invalid-applicability', `invalid statement of applicability: ${problems.slice(0, 20).join('; ')}`, { problems });
    }
    // REs sharing their CR's condition follow it, unless listed themselves.
    for (let i = 0; i < n; i++) {
      const parent = items[i].inheritsFrom;
      if (parent >= 0 && naMask[parent] === 1 && !seen.has(items[i].item.id)) {
        naMask[i] = 1;
        notApplicable.set(items[i].item.id, notApplicable.get(items[parent].item.id)!);
      }
    }
    return { naMask, notApplicable };
  }

  function resolveDeclared(d: ScoreInput['declared']): DeclaredRequirements {
    if (d === undefined) return noDeclared;
    if (!Array.isArray(d)) {
      const r = d as DeclaredRequirements;
      if (r.componentType !== componentType || !(r.mask instanceof Uint8Array) || r.mask.length !== n) {
        throw invalid('hardening.invalid-declared', `declared requirements were resolved for another scorer (${r.componentType})`);
      }
      return r;
    }
    // Frozen lists cannot change, so their resolution can be reused.
    if (Object.isFrozen(d)) {
      let r = frozenCache.get(d);
      if (!r) frozenCache.set(d, (r = declare(d)));
      return r;
    }
    return declare(d);
  }

  function effectiveAttestation(input: ScoreInput): DeviceScore['attestation'] {
    const a = input.attestation;
    if (a === undefined) return frozenAttestation.get('none')!;
    const fixed = frozenAttestation.get(a.status);
    if (!fixed) {
      throw invalid('hardening.invalid-attestation', `attestation status must be one of ${ATTESTATION_STATUSES.join(', ')}`);
    }
    if (a.at === undefined) return fixed;
    const atMs = toEpochMs(a.at, 'attestation time');
    const at = new Date(atMs).toISOString();
    if (maxAgeMs !== undefined && (a.status === 'affirming' || a.status === 'warning')) {
      const now = input.now === undefined ? Date.now() : toEpochMs(input.now, 'now');
      if (now - atMs > maxAgeMs) return { status: 'stale', reported: a.status, at };
    }
    return { status: a.status, reported: a.status, at };
  }

  const REPORT_COUNTS = Object.freeze({ counts: true, fallback: null });
  const reportFallbacks = new Map<ReportFallback, DeviceScore['report']>(
    (Object.keys(FALLBACK_WORDS) as ReportFallback[]).map((f) => [f, Object.freeze({ counts: false, fallback: f })]),
  );

  /** Whether the report's facts count as evidence (SPEC: affirming, fresh, naming the attested firmware). */
  function reportEvidence(input: ScoreInput, facts: HardeningReport, att: AttestationStatus): DeviceScore['report'] {
    if (input.observed?.hardeningReport === false) return reportFallbacks.get('no-report')!;
    if (att !== 'affirming') return reportFallbacks.get('attestation-not-affirming')!;
    if (maxReportAgeMs !== undefined) {
      const now = input.now === undefined ? Date.now() : toEpochMs(input.now, 'now');
      const received = input.reportedAt === undefined ? undefined : toEpochMs(input.reportedAt, 'report time');
      const own = typeof facts.reportedAt === 'string' ? Date.parse(facts.reportedAt) : undefined;
      if (received === undefined || now - received > maxReportAgeMs) return reportFallbacks.get('stale-report')!;
      if (own !== undefined && Number.isFinite(own) && now - own > maxReportAgeMs) return reportFallbacks.get('stale-report')!;
    }
    const attested = input.attestation?.firmwareVersion;
    if (typeof attested !== 'string' || facts.firmwareVersion !== attested) return reportFallbacks.get('firmware-mismatch')!;
    return REPORT_COUNTS;
  }

  const metEvidenced = (s: number) => s === EVIDENCED;
  const metDeclared = (s: number) => s === EVIDENCED || s === DECLARED;

  /** SL-C of one FR with item `asMet` (a plan index) counted as met. */
  function frLevelIfMet(fr: number, metIn: (s: number) => boolean, asMet: number): SlValue {
    let min = 5;
    for (const i of plan.byFr[fr]) {
      const s = statuses[i];
      if (s === NA || i === asMet || metIn(s)) continue;
      if (items[i].sl < min) min = items[i].sl;
    }
    return (min - 1) as SlValue;
  }

  function uncertainDeciders(levels: SlVector, metIn: (s: number) => boolean): UncertainDeciders {
    let out: UncertainDeciders | undefined;
    for (let fr = 0; fr < 7; fr++) {
      for (const i of plan.uncertainByFr[fr]) {
        // Only an unmet item can bind the level; a met item's level, certain or not, never does.
        if (statuses[i] === NA || metIn(statuses[i])) continue;
        if (frLevelIfMet(fr, metIn, i) !== levels[FR_KEYS[fr]]) ((out ??= {})[FR_KEYS[fr]] ??= []).push(items[i].item.id);
      }
    }
    return out ?? EMPTY;
  }

  const score = (input: ScoreInput): DeviceScore => {
    const facts = input.facts as object;
    if (typeof facts !== 'object' || facts === null) {
      throw invalid('hardening.invalid-report', 'facts must be a hardening report object');
    }
    const attestation = effectiveAttestation(input);
    const declared = resolveDeclared(input.declared);
    const observed = input.observed ?? NO_OBSERVED;
    const report = reportEvidence(input, facts as HardeningReport, attestation.status);
    computeStatuses(plan, facts, attestation.status, observed, declared, report.counts, statuses);

    minE.fill(5);
    minD.fill(5);
    let nNa = 0;
    let nEv = 0;
    let nDe = 0;
    let nCo = 0;
    const { itemFr, itemSl } = plan;
    for (let i = 0; i < n; i++) {
      const s = statuses[i];
      if (s === EVIDENCED) {
        nEv++;
        continue;
      }
      if (s === NA) {
        nNa++;
        continue;
      }
      const fr = itemFr[i];
      const sl = itemSl[i];
      if (sl < minE[fr]) minE[fr] = sl;
      if (s === DECLARED) nDe++;
      else {
        if (s === CONTRADICTED) nCo++;
        if (sl < minD[fr]) minD[fr] = sl;
      }
    }
    const evidenced = vector(minE);
    const declaredVec = vector(minD);
    let decidedByUncertain = NO_UNCERTAIN;
    if (plan.hasUncertain) {
      const e = uncertainDeciders(evidenced, metEvidenced);
      const d = uncertainDeciders(declaredVec, metDeclared);
      if (e !== EMPTY || d !== EMPTY) decidedByUncertain = { evidenced: e, declared: d };
    }
    // A copy of the codes (the scorer reuses its buffer): a zone export tables every device, and
    // running the rules again for that was a third of its scoring. Copied into a shared slab, not
    // a Uint8Array per score (each with a buffer of its own): bench:score's pure run stays as fast.
    if (slabAt + n > slab.length) {
      slab = new Uint8Array(Math.max(SLAB_BYTES, n));
      slabAt = 0;
    }
    slab.set(statuses, slabAt);
    const at = slabAt;
    slabAt += n;
    return new Score(
      plan,
      slab,
      at,
      facts,
      observed,
      declared,
      componentType,
      catalog.version,
      rules.version,
      attestation,
      report,
      evidenced,
      declaredVec,
      decidedByUncertain,
      {
        evidenced: nEv,
        declared: nDe,
        contradicted: nCo,
        missing: n - nNa - nEv - nDe - nCo,
        'not-applicable': nNa,
      },
      declared.ignored,
    );
  };

  return Object.assign(score, {
    componentType,
    catalogVersion: catalog.version,
    rulesVersion: rules.version,
    items: Object.freeze(items.map((p) => p.item)),
    declare,
  });
}

function vector(min: Int32Array): SlVector {
  return {
    FR1: (min[0] - 1) as SlValue,
    FR2: (min[1] - 1) as SlValue,
    FR3: (min[2] - 1) as SlValue,
    FR4: (min[3] - 1) as SlValue,
    FR5: (min[4] - 1) as SlValue,
    FR6: (min[5] - 1) as SlValue,
    FR7: (min[6] - 1) as SlValue,
  };
}

export interface ScoreDeviceInput extends ScoreInput {
  componentType: ComponentType;
  /** Default: the shipped catalog. */
  catalog?: Catalog;
  /** Default: the shipped fact rules. */
  rules?: FactRules;
  options?: ScorerOptions;
}

const scorerCache = new WeakMap<Catalog, WeakMap<FactRules, Map<string, Scorer>>>();

/**
 * Scores one device. Convenience over `createScorer`: scorers are cached per catalog, rules,
 * component type and staleness limit. For many devices, hold a scorer from `createScorer`.
 */
export function scoreDevice(input: ScoreDeviceInput): DeviceScore {
  const catalog = input.catalog ?? loadCatalog();
  const rules = input.rules ?? loadFactRules();
  const type = assertComponentType(input.componentType);
  const key = `${type}|${input.options?.maxAttestationAgeSeconds ?? ''}|${input.options?.maxReportAgeSeconds ?? ''}`;
  let byRules = scorerCache.get(catalog);
  if (!byRules) scorerCache.set(catalog, (byRules = new WeakMap()));
  let byKey = byRules.get(rules);
  if (!byKey) byRules.set(rules, (byKey = new Map()));
  let scorer = byKey.get(key);
  if (!scorer) byKey.set(key, (scorer = createScorer(catalog, rules, type, input.options)));
  return scorer(input);
}
