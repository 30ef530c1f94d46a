/**
 * Zone assessment (IEC 62443-3-2 / 3-3): a zone's achieved level SL-A per FR is the lowest of its
 * devices' evidenced SL-C, where a requirement a compensating countermeasure covers counts as met
 * for every device of the zone. Countermeasures are listed apart, with what each raised; gaps are
 * against the zone's target SL-T. Plain functions over the scorer's results (no Nest, no SQL).
 */
import { invalid } from '@fleetguard/common';
import { FR_KEYS, catalogIds, type Catalog, type DeviceScore, type FrKey, type Grade, type ItemTable, type ItemStatus, type Scorer, type SlValue, type SlVector, type TargetLevels } from '@fleetguard/hardening';

export interface Countermeasure {
  id: string;
  requirement: string;
  description: string;
  recordedAt: string;
}

/** One device of a zone as scored, with the evidence its score rests on. */
export interface ZoneDevice {
  deviceId: string;
  scorer: Scorer;
  score: DeviceScore;
  evidence: { reportId: string | null; attestationResultId: string | null; firmwareRelease: string | null };
  /** The 62443-4-1 lifecycle's findings on the attested release (hardening's lifecycle-findings.ts). */
  lifecycleFindings?: ReadonlyArray<{ code: string; requirement: string | null }>;
}

/** One row of an assessment: a requirement of one device (SPEC's columns). */
export interface AssessmentRow {
  deviceId: string;
  requirement: string;
  fr: FrKey;
  sl: number;
  applicable: boolean;
  verdict: ItemStatus;
  grade: Grade | null;
  /** Set when the item is unmet for the device and a zone countermeasure covers it. */
  countermeasure: string | null;
  reportId: string | null;
  attestationResultId: string | null;
  firmwareRelease: string | null;
  rulesVersion: string;
  catalogVersion: string;
  /** Lifecycle finding codes on this requirement (e.g. `lifecycle.exposed`), `; `-separated; null: none. */
  lifecycleFindings: string | null;
}

export interface FrAssessment {
  /** The lowest device level with countermeasures counted (null: the zone has no device). */
  slA: SlValue | null;
  /** The same without countermeasures. */
  slAWithoutCountermeasures: SlValue | null;
  slT: SlValue;
  /** The devices at the lowest level (that hold the FR down). */
  heldDownBy: string[];
  /** Unmet requirements up to SL-T, with the devices missing each (after countermeasures). */
  gaps: Array<{ requirement: string; sl: number; devices: string[] }>;
}

export interface ZoneAssessment {
  devices: number;
  slA: Record<FrKey, SlValue | null>;
  slT: SlVector;
  perFr: Record<FrKey, FrAssessment>;
  /** Each countermeasure with the FRs and devices whose level it raised. */
  countermeasures: Array<Countermeasure & { raised: Array<{ fr: FrKey; devices: string[] }> }>;
  belowTarget: FrKey[];
}

const MET = new Set<ItemStatus>(['evidenced', 'not-applicable']);

/** The catalog ids a countermeasure for `requirement` covers: itself, or a placeholder CR's component-specific items. */
export function countermeasureCovers(catalog: Catalog, requirement: string): Set<string> {
  if (!catalogIds(catalog).has(requirement)) {
    throw invalid('zone.unknown-requirement', `${requirement} is not in catalog ${catalog.version}`);
  }
  const entry = catalog.items.find((e) => e.id === requirement);
  const out = new Set<string>([requirement]);
  for (const d of entry?.delegatedTo ?? []) out.add(d);
  return out;
}

/** FR levels of one device's evidenced vector, counting the `covered` items (by plan index) as met. */
function levels(scorer: Scorer, statuses: readonly ItemStatus[], covered: (id: string) => boolean): SlValue[] {
  const min = [5, 5, 5, 5, 5, 5, 5];
  scorer.items.forEach((it, i) => {
    if (MET.has(statuses[i]) || covered(it.id)) return;
    if (it.sl < min[it.fr - 1]) min[it.fr - 1] = it.sl;
  });
  return min.map((m) => (m - 1) as SlValue);
}

/** The per-device part of an assessment: rows and levels with and without countermeasures. */
export function assessDevice(d: ZoneDevice, covers: ReadonlyMap<string, string>, table: ItemTable = d.score.table()): {
  rows: AssessmentRow[];
  levels: SlValue[];
  without: SlValue[];
} {
  const without = levels(d.scorer, table.statuses, () => false);
  const withCm = covers.size ? levels(d.scorer, table.statuses, (id) => covers.has(id)) : without;
  const findingsOn = lifecycleCodesByRequirement(d);
  const rows = d.scorer.items.map<AssessmentRow>((it, i) => {
    const verdict = table.statuses[i];
    return {
      deviceId: d.deviceId,
      requirement: it.id,
      fr: FR_KEYS[it.fr - 1],
      sl: it.sl,
      applicable: verdict !== 'not-applicable',
      verdict,
      grade: table.grades[i],
      countermeasure: !MET.has(verdict) ? (covers.get(it.id) ?? null) : null,
      reportId: d.evidence.reportId,
      attestationResultId: d.evidence.attestationResultId,
      firmwareRelease: d.evidence.firmwareRelease,
      rulesVersion: d.score.rulesVersion,
      catalogVersion: d.score.catalogVersion,
      lifecycleFindings: findingsOn.get(it.id) ?? null,
    };
  });
  return { rows, levels: withCm, without };
}

/** Item id → the countermeasure id covering it (the first recorded wins). */
export function coverage(catalog: Catalog, countermeasures: readonly Countermeasure[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of countermeasures) for (const id of countermeasureCovers(catalog, c.requirement)) if (!m.has(id)) m.set(id, c.id);
  return m;
}

/** A scorer's items as index arrays (FR index 0..6, SL), built once per scorer. */
export interface ItemPlan {
  readonly ids: readonly string[];
  readonly fr: Uint8Array;
  readonly sl: Uint8Array;
}
const plans = new WeakMap<Scorer, ItemPlan>();
export function itemPlan(scorer: Scorer): ItemPlan {
  let p = plans.get(scorer);
  if (!p) {
    p = { ids: scorer.items.map((i) => i.id), fr: Uint8Array.from(scorer.items, (i) => i.fr - 1), sl: Uint8Array.from(scorer.items, (i) => i.sl) };
    plans.set(scorer, p);
  }
  return p;
}

const isMet = (s: ItemStatus) => s === 'evidenced' || s === 'not-applicable';

/**
 * Accumulates a zone's assessment device by device (so 100,000 devices stream through in
 * batches): `accumulate` (or `add`, which also returns the device's rows) each scored device,
 * then `result()`. Works on the score's item table by index: no row objects unless asked for.
 */
export class ZoneAssessor {
  private n = 0;
  private readonly minWith = [5, 5, 5, 5, 5, 5, 5];
  private readonly minWithout = [5, 5, 5, 5, 5, 5, 5];
  private readonly heldDown: string[][] = FR_KEYS.map(() => []);
  private readonly gapDevices = FR_KEYS.map(() => new Map<string, { sl: number; devices: string[] }>());
  private readonly raised = new Map<string, Map<FrKey, string[]>>();
  private readonly coverByScorer = new Map<Scorer, ReadonlyArray<string | null>>();
  private readonly slTByIndex: number[];
  private static readonly GAP_DEVICES_LISTED = 100;

  constructor(
    private readonly slT: SlVector,
    private readonly countermeasures: readonly Countermeasure[],
    private readonly covers: ReadonlyMap<string, string>,
  ) {
    this.slTByIndex = FR_KEYS.map((k) => slT[k]);
  }

  /** Per item of `scorer` (by index), the countermeasure id covering it, or null. */
  coverOf(scorer: Scorer): ReadonlyArray<string | null> {
    let c = this.coverByScorer.get(scorer);
    if (!c) {
      c = itemPlan(scorer).ids.map((id) => this.covers.get(id) ?? null);
      this.coverByScorer.set(scorer, c);
    }
    return c;
  }

  /** A device's rows (with this zone's countermeasures). */
  rowsOf(d: ZoneDevice, table: ItemTable = d.score.table()): AssessmentRow[] {
    return assessDevice(d, this.covers, table).rows;
  }

  /** Adds one device; returns its rows (for JSON, HTML and OSCAL exports, and tests). */
  add(d: ZoneDevice): AssessmentRow[] {
    const table = d.score.table();
    this.accumulate(d, table);
    return assessDevice(d, this.covers, table).rows;
  }

  /** Adds one device to SL-A, held-down devices, gaps and countermeasure effects. */
  accumulate(d: ZoneDevice, table: ItemTable = d.score.table()): void {
    const plan = itemPlan(d.scorer);
    const cover = this.coverOf(d.scorer);
    const st = table.statuses;
    const withCm = [5, 5, 5, 5, 5, 5, 5];
    const without = [5, 5, 5, 5, 5, 5, 5];
    for (let i = 0; i < st.length; i++) {
      if (isMet(st[i])) continue;
      const f = plan.fr[i];
      const sl = plan.sl[i];
      if (sl < without[f]) without[f] = sl;
      if (cover[i] === null) {
        if (sl < withCm[f]) withCm[f] = sl;
        if (sl <= this.slTByIndex[f]) {
          const id = plan.ids[i];
          let g = this.gapDevices[f].get(id);
          if (!g) this.gapDevices[f].set(id, (g = { sl, devices: [] }));
          if (g.devices.length < ZoneAssessor.GAP_DEVICES_LISTED) g.devices.push(d.deviceId);
        }
      }
    }
    this.n++;
    for (let f = 0; f < 7; f++) {
      const lvl = withCm[f];
      if (lvl < this.minWith[f]) {
        this.minWith[f] = lvl;
        this.heldDown[f] = [d.deviceId];
      } else if (lvl === this.minWith[f] && this.heldDown[f].length < ZoneAssessor.GAP_DEVICES_LISTED) this.heldDown[f].push(d.deviceId);
      if (without[f] < this.minWithout[f]) this.minWithout[f] = without[f];
      if (withCm[f] > without[f]) {
        // Which countermeasures made the difference for this FR: those covering its unmet items below the new level.
        const k = FR_KEYS[f];
        for (let i = 0; i < st.length; i++) {
          const cm = cover[i];
          if (cm === null || plan.fr[i] !== f || plan.sl[i] >= withCm[f] || isMet(st[i])) continue;
          let byFr = this.raised.get(cm);
          if (!byFr) this.raised.set(cm, (byFr = new Map()));
          const list = byFr.get(k) ?? [];
          if (!list.includes(d.deviceId)) list.push(d.deviceId);
          byFr.set(k, list);
        }
      }
    }
  }

  result(): ZoneAssessment {
    const empty = this.n === 0;
    const slA = {} as Record<FrKey, SlValue | null>;
    const perFr = {} as Record<FrKey, FrAssessment>;
    const belowTarget: FrKey[] = [];
    FR_KEYS.forEach((k, f) => {
      const a = empty ? null : ((this.minWith[f] - 1) as SlValue);
      slA[k] = a;
      perFr[k] = {
        slA: a,
        slAWithoutCountermeasures: empty ? null : ((this.minWithout[f] - 1) as SlValue),
        slT: this.slT[k],
        heldDownBy: a !== null && a < 4 ? this.heldDown[f] : [],
        gaps: [...this.gapDevices[f]].map(([requirement, g]) => ({ requirement, sl: g.sl, devices: g.devices })).sort((x, y) => x.sl - y.sl || x.requirement.localeCompare(y.requirement)),
      };
      if (a === null || a < this.slT[k]) belowTarget.push(k);
    });
    return {
      devices: this.n,
      slA,
      slT: this.slT,
      perFr,
      countermeasures: this.countermeasures.map((c) => ({
        ...c,
        raised: [...(this.raised.get(c.id) ?? new Map<FrKey, string[]>())].map(([fr, devices]) => ({ fr, devices })),
      })),
      belowTarget,
    };
  }
}

/** A zone's target levels (FR1..FR7, integers 0..4, all present); throws `zone.invalid-target`. */
export function parseTargetLevels(raw: unknown): SlVector {
  const out = {} as SlVector;
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('zone.invalid-target', 'targetLevels must be {FR1..FR7: 0..4}');
  for (const k of FR_KEYS) {
    const v = (raw as Record<string, unknown>)[k];
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4) problems.push(`${k} must be an integer 0..4`);
    else out[k] = v as SlValue;
  }
  const extra = Object.keys(raw).filter((k) => !(FR_KEYS as readonly string[]).includes(k));
  if (extra.length) problems.push(`unknown field(s) ${extra.join(', ')}`);
  if (problems.length) throw invalid('zone.invalid-target', `targetLevels: ${problems.join('; ')}`, { problems });
  return out;
}

export type { TargetLevels };

/** A device's lifecycle finding codes by requirement id, `; `-separated (the assessment's `lifecycleFindings` cell). */
export function lifecycleCodesByRequirement(d: Pick<ZoneDevice, 'lifecycleFindings'>): Map<string, string> {
  const codesOn = new Map<string, string[]>();
  for (const f of d.lifecycleFindings ?? []) {
    if (!f.requirement) continue;
    const codes = codesOn.get(f.requirement) ?? [];
    if (!codes.includes(f.code)) codes.push(f.code);
    codesOn.set(f.requirement, codes);
  }
  return new Map([...codesOn].map(([id, codes]) => [id, codes.join('; ')]));
}
