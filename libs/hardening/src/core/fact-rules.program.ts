/**
 * The fact rules one scorer needs, compiled into a flat program for the hot path: per device each
 * fact path is read once into a slot, each distinct fact test ("atom") is evaluated once by a
 * switch over op codes, and each condition is a short postfix program over the atoms. No closure
 * per fact test (only `match` inside every/some is one), no repeated property reads, no eval.
 * Same semantics as fact-condition.evaluator.ts (a property test checks that both agree);
 * explanations still use the evaluator's explainers.
 */
import {
  ATTESTATION_STATUSES,
  getter,
  lookupShape,
  prepareCondition,
  type AttestationStatus,
  type FactCondition,
  type Truth,
} from './fact-condition.evaluator';
import type { FactDescriptor } from './hardening-report.schema';
import { OBSERVED_NAMESPACE } from './observed-facts';

// Truth values, local so the hot path does not go through module export getters.
const FALSE = 0;
const UNKNOWN = 1;
const TRUE = 2;

// Atom kinds. A_EQ and A_IN are the common single-op fact tests, evaluated inline.
const A_FACT = 0;
const A_ATTESTATION = 1;
const A_EVERY = 2; // quantifiers over an array slot; `match` is the evaluator's compiled closure
const A_SOME = 5;
const A_EQ = 3;
const A_IN = 4;

// Fact-test op codes.
const OP_EQ = 0;
const OP_NE = 1;
const OP_IN = 2;
const OP_GTE = 3;
const OP_GT = 4;
const OP_LTE = 5;
const OP_LT = 6;
const OP_CONTAINS = 7;
const OP_SUBSET = 8;
const OP_NONEMPTY = 9;
const OP_CODES: Record<string, number> = {
  eq: OP_EQ,
  ne: OP_NE,
  in: OP_IN,
  gte: OP_GTE,
  gt: OP_GT,
  lte: OP_LTE,
  lt: OP_LT,
  contains: OP_CONTAINS,
  subsetOf: OP_SUBSET,
  nonEmpty: OP_NONEMPTY,
};

// Postfix instructions, two int32 each: [code, arg].
const I_ATOM = 0;
const I_NOT = 1;
const I_ALL = 2;
const I_ANY = 3;

const STATUS_INDEX = new Map(ATTESTATION_STATUSES.map((s, i) => [s, i]));

/** Outcome of a rule for one device. */
export const OUTCOME_NONE = 0;
export const OUTCOME_EVIDENCED = 1;
export const OUTCOME_CONTRADICTED = 3;

export interface ProgramRule {
  readonly evidenced: FactCondition;
  /** Absent: contradicted when `evidenced` is FALSE. */
  readonly contradicted?: FactCondition;
}

export interface FactProgram {
  /**
   * Evaluates every rule and applicability condition for one device into the output arrays.
   * `observed` fills the `observed.*` facts; a report's own `observed` field is never read.
   */
  run(facts: object, attestation: AttestationStatus, observed?: object): void;
  /** Per rule (input order): OUTCOME_NONE / OUTCOME_EVIDENCED / OUTCOME_CONTRADICTED. */
  readonly outcomes: Uint8Array;
  /** Per applicability condition (input order): FALSE / UNKNOWN / TRUE. */
  readonly applies: Uint8Array;
}

interface Group {
  readonly key: string;
  /** Slot for the top-level value itself, or -1. */
  readonly self: number;
  readonly subNames: readonly string[];
  readonly subSlots: readonly number[];
}

/**
 * Compiles rules and applicability conditions (already checked by `prepareCondition`) for the hot
 * path. `shape` is the report shape, used only to compile quantifiers.
 */
export function compileFactProgram(
  rules: readonly ProgramRule[],
  applicability: readonly FactCondition[],
  shape: FactDescriptor,
): FactProgram {
  // ---- slots: one per distinct top-level-relative fact path ----
  const slotOf = new Map<string, number>();
  const deepGetters: { slot: number; get: (o: object) => unknown }[] = [];
  const groups = new Map<string, { self: number; subNames: string[]; subSlots: number[] }>();
  const slot = (path: string): number => {
    let s = slotOf.get(path);
    if (s !== undefined) return s;
    s = slotOf.size;
    slotOf.set(path, s);
    const segs = path.split('.');
    if (segs.length > 2) deepGetters.push({ slot: s, get: getter(path) });
    else {
      let g = groups.get(segs[0]);
      if (!g) groups.set(segs[0], (g = { self: -1, subNames: [], subSlots: [] }));
      if (segs.length === 1) g.self = s;
      else {
        g.subNames.push(segs[1]);
        g.subSlots.push(s);
      }
    }
    return s;
  };

  // ---- atoms ----
  const atomIndex = new Map<string, number>();
  const atomKind: number[] = [];
  const atomSlot: number[] = [];
  const atomExists: number[] = []; // -1 none, 0 exists:false, 1 exists:true
  const atomOpStart: number[] = [];
  const atomOpEnd: number[] = [];
  const opCode: number[] = [];
  const opArg: unknown[] = [];
  const attTruth: number[] = []; // per attestation atom × status

  const atom = (cond: Record<string, unknown>): number => {
    const key = JSON.stringify(cond);
    const known = atomIndex.get(key);
    if (known !== undefined) return known;
    const k = atomKind.length;
    atomIndex.set(key, k);
    atomOpStart.push(opCode.length);
    if ('attestation' in cond) {
      atomKind.push(A_ATTESTATION);
      atomSlot.push(attTruth.length);
      const listed = new Set(Array.isArray(cond.attestation) ? cond.attestation : [cond.attestation]);
      for (const s of ATTESTATION_STATUSES) {
        attTruth.push(listed.has(s) ? TRUE : s === 'none' && !listed.has('none') ? UNKNOWN : FALSE);
      }
      atomExists.push(-1);
    } else if ('every' in cond || 'some' in cond) {
      const path = (cond.every ?? cond.some) as string;
      atomKind.push('every' in cond ? A_EVERY : A_SOME);
      atomSlot.push(slot(path));
      opArg.push(prepareCondition(cond.match, lookupShape(shape, path)!.items!, 'program').evaluate);
      opCode.push(-1);
      atomExists.push(-1);
    } else {
      const ops = Object.keys(cond).filter((op) => op !== 'fact');
      atomKind.push(ops.length === 1 && ops[0] === 'eq' ? A_EQ : ops.length === 1 && ops[0] === 'in' ? A_IN : A_FACT);
      atomSlot.push(slot(cond.fact as string));
      atomExists.push(cond.exists === undefined ? -1 : cond.exists ? 1 : 0);
      for (const op of ops) {
        if (op === 'exists') continue;
        opCode.push(OP_CODES[op]);
        opArg.push(op === 'in' || op === 'subsetOf' ? new Set(cond[op] as unknown[]) : cond[op]);
      }
    }
    atomOpEnd.push(opCode.length);
    return k;
  };

  // ---- programs ----
  const code: number[] = [];
  const progStart: number[] = [];
  const progEnd: number[] = [];
  const progAtom: number[] = []; // single-atom programs skip the stack machine
  let maxDepth = 1;
  const emit = (cond: FactCondition, depth: number): void => {
    maxDepth = Math.max(maxDepth, depth + 1);
    const c = cond as Record<string, unknown>;
    if ('all' in c || 'any' in c) {
      const parts = (c.all ?? c.any) as FactCondition[];
      parts.forEach((p, i) => emit(p, depth + i));
      code.push('all' in c ? I_ALL : I_ANY, parts.length);
    } else if ('not' in c) {
      emit(c.not as FactCondition, depth);
      code.push(I_NOT, 0);
    } else code.push(I_ATOM, atom(c));
  };
  const program = (cond: FactCondition): number => {
    const p = progStart.length;
    progStart.push(code.length);
    emit(cond, 0);
    progEnd.push(code.length);
    progAtom.push(code.length - progStart[p] === 2 && code[progStart[p]] === I_ATOM ? code[progStart[p] + 1] : -1);
    return p;
  };
  const ruleEv = rules.map((r) => program(r.evidenced));
  const ruleCo = rules.map((r) => (r.contradicted ? program(r.contradicted) : -1));
  const appProg = applicability.map((c) => program(c));

  return new Program({
    groups: [...groups].map(([key, g]) => ({ key, ...g })),
    deepGetters,
    slots: slotOf.size,
    kind: Uint8Array.from(atomKind),
    aSlot: Int32Array.from(atomSlot),
    aExists: Int8Array.from(atomExists),
    aOpStart: Int32Array.from(atomOpStart),
    aOpEnd: Int32Array.from(atomOpEnd),
    ops: Int8Array.from(opCode),
    opArg,
    attT: Uint8Array.from(attTruth),
    prog: Int32Array.from(code),
    pStart: Int32Array.from(progStart),
    pEnd: Int32Array.from(progEnd),
    pAtom: Int32Array.from(progAtom),
    rEv: Int32Array.from(ruleEv),
    rCo: Int32Array.from(ruleCo),
    aProg: Int32Array.from(appProg),
    stackSize: maxDepth + 1,
  });
}

interface Tables {
  readonly groups: readonly Group[];
  readonly deepGetters: readonly { slot: number; get: (o: object) => unknown }[];
  readonly slots: number;
  /** Per atom: kind, slot (or attT offset), exists flag, op range. */
  readonly kind: Uint8Array;
  readonly aSlot: Int32Array;
  readonly aExists: Int8Array;
  readonly aOpStart: Int32Array;
  readonly aOpEnd: Int32Array;
  /** Per op: code and argument (a Set for in/subsetOf, the match closure for quantifiers). */
  readonly ops: Int8Array;
  readonly opArg: readonly unknown[];
  /** Per attestation atom, its truth for each attestation status. */
  readonly attT: Uint8Array;
  /** Postfix code, and per program its range and, when it is a single atom, that atom. */
  readonly prog: Int32Array;
  readonly pStart: Int32Array;
  readonly pEnd: Int32Array;
  readonly pAtom: Int32Array;
  /** Per rule: its evidenced and contradicted (-1: none) programs; per applicability: its program. */
  readonly rEv: Int32Array;
  readonly rCo: Int32Array;
  readonly aProg: Int32Array;
  readonly stackSize: number;
}

/** One class for every program, so the hot methods see one object shape (monomorphic loads). */
class Program implements FactProgram {
  readonly outcomes: Uint8Array;
  readonly applies: Uint8Array;
  private readonly t: Tables;
  private readonly vals: unknown[];
  private readonly atoms: Uint8Array;
  private readonly stack: Uint8Array;
  private readonly groupOf: Map<string, number>;
  private readonly observedGroup: number;

  constructor(t: Tables) {
    this.t = t;
    this.vals = new Array(t.slots).fill(undefined);
    this.atoms = new Uint8Array(t.kind.length);
    this.stack = new Uint8Array(t.stackSize);
    this.outcomes = new Uint8Array(t.rEv.length);
    this.applies = new Uint8Array(t.aProg.length);
    this.groupOf = new Map(t.groups.map((g, i) => [g.key, i]));
    this.observedGroup = this.groupOf.get(OBSERVED_NAMESPACE) ?? -1;
    this.groupOf.delete(OBSERVED_NAMESPACE);
  }

  run(facts: object, attestation: AttestationStatus, observed?: object): void {
    this.read(facts as Record<string, unknown>);
    if (this.observedGroup >= 0 && observed !== undefined) {
      const grp = this.t.groups[this.observedGroup];
      const o = observed as Record<string, unknown>;
      for (let j = 0; j < grp.subNames.length; j++) this.vals[grp.subSlots[j]] = o[grp.subNames[j]];
    }
    const { kind, aSlot, aOpStart, opArg, attT, pAtom, rEv, rCo, aProg } = this.t;
    const { vals, atoms, outcomes, applies } = this;
    const si = STATUS_INDEX.get(attestation) ?? STATUS_INDEX.get('none')!;
    for (let k = 0; k < atoms.length; k++) {
      switch (kind[k]) {
        case A_EQ: {
          const v = vals[aSlot[k]];
          atoms[k] = v === undefined ? UNKNOWN : v === opArg[aOpStart[k]] ? TRUE : FALSE;
          break;
        }
        case A_IN: {
          const v = vals[aSlot[k]];
          atoms[k] = v === undefined ? UNKNOWN : (opArg[aOpStart[k]] as Set<unknown>).has(v) ? TRUE : FALSE;
          break;
        }
        case A_ATTESTATION:
          atoms[k] = attT[aSlot[k] + si];
          break;
        case A_EVERY:
        case A_SOME:
          atoms[k] = this.quantify(k, attestation);
          break;
        default:
          atoms[k] = this.test(k);
      }
    }
    for (let r = 0; r < outcomes.length; r++) {
      const ep = rEv[r];
      const co = rCo[r];
      if (co >= 0) {
        const c = pAtom[co] >= 0 ? atoms[pAtom[co]] : this.exec(co);
        outcomes[r] =
          c === TRUE
            ? OUTCOME_CONTRADICTED
            : (pAtom[ep] >= 0 ? atoms[pAtom[ep]] : this.exec(ep)) === TRUE
              ? OUTCOME_EVIDENCED
              : OUTCOME_NONE;
      } else {
        const e = pAtom[ep] >= 0 ? atoms[pAtom[ep]] : this.exec(ep);
        outcomes[r] = e === TRUE ? OUTCOME_EVIDENCED : e === FALSE ? OUTCOME_CONTRADICTED : OUTCOME_NONE;
      }
    }
    for (let a = 0; a < applies.length; a++) {
      const ap = aProg[a];
      applies[a] = pAtom[ap] >= 0 ? atoms[pAtom[ap]] : this.exec(ap);
    }
  }

  /**
   * Fills the slots. Top-level values are found by walking the report's own keys: for objects from
   * JSON.parse (fast properties, many hidden classes across a fleet) that is about twice as fast as
   * looking each key up, which goes megamorphic.
   */
  private read(facts: Record<string, unknown>): void {
    const { groups, deepGetters } = this.t;
    const { vals, groupOf } = this;
    vals.fill(undefined);
    for (const key in facts) {
      const g = groupOf.get(key);
      if (g === undefined) continue;
      const grp = groups[g];
      const x = facts[key];
      if (grp.self >= 0) vals[grp.self] = x;
      const names = grp.subNames;
      if (names.length !== 0 && typeof x === 'object' && x !== null) {
        const slots = grp.subSlots;
        const o = x as Record<string, unknown>;
        for (let j = 0; j < names.length; j++) vals[slots[j]] = o[names[j]];
      }
    }
    for (let d = 0; d < deepGetters.length; d++) vals[deepGetters[d].slot] = deepGetters[d].get(facts);
  }

  /** A fact test with several ops, or with `exists`. */
  private test(k: number): Truth {
    const { aSlot, aExists, aOpStart, aOpEnd, ops, opArg } = this.t;
    const v = this.vals[aSlot[k]];
    const ex = aExists[k];
    if (v === undefined) return ex === 1 ? FALSE : ex === 0 ? TRUE : UNKNOWN;
    if (ex === 0) return FALSE;
    for (let o = aOpStart[k]; o < aOpEnd[k]; o++) {
      const arg = opArg[o];
      let ok: boolean;
      switch (ops[o]) {
        case OP_EQ:
          ok = v === arg;
          break;
        case OP_NE:
          ok = v !== arg;
          break;
        case OP_IN:
          ok = (arg as Set<unknown>).has(v);
          break;
        case OP_GTE:
          ok = typeof v === 'number' && v >= (arg as number);
          break;
        case OP_GT:
          ok = typeof v === 'number' && v > (arg as number);
          break;
        case OP_LTE:
          ok = typeof v === 'number' && v <= (arg as number);
          break;
        case OP_LT:
          ok = typeof v === 'number' && v < (arg as number);
          break;
        case OP_CONTAINS:
          ok = Array.isArray(v) && v.includes(arg);
          break;
        case OP_SUBSET: {
          ok = Array.isArray(v);
          if (ok) {
            const set = arg as Set<unknown>;
            for (let i = 0; i < (v as unknown[]).length; i++) {
              if (!set.has((v as unknown[])[i])) {
                ok = false;
                break;
              }
            }
          }
          break;
        }
        default: // OP_NONEMPTY
          ok = Array.isArray(v) && v.length > 0 === arg;
      }
      if (!ok) return FALSE;
    }
    return TRUE;
  }

  /** Kleene AND (every) / OR (some) of `match` over the elements; an absent array is UNKNOWN. */
  private quantify(k: number, attestation: AttestationStatus): Truth {
    const { kind, aSlot, aOpStart, opArg } = this.t;
    const arr = this.vals[aSlot[k]];
    if (!Array.isArray(arr)) return UNKNOWN;
    const match = opArg[aOpStart[k]] as (el: object, a: AttestationStatus) => Truth;
    const every = kind[k] === A_EVERY;
    const decisive = every ? FALSE : TRUE;
    let r: Truth = every ? TRUE : FALSE;
    for (let i = 0; i < arr.length; i++) {
      const el: unknown = arr[i];
      const v = typeof el === 'object' && el !== null && !Array.isArray(el) ? match(el, attestation) : UNKNOWN;
      if (v === decisive) return decisive;
      if (v === UNKNOWN) r = UNKNOWN;
    }
    return r;
  }

  /** Runs a postfix program over the atoms. */
  private exec(p: number): number {
    const { prog, pStart, pEnd } = this.t;
    const { atoms, stack } = this;
    let sp = 0;
    for (let pc = pStart[p]; pc < pEnd[p]; pc += 2) {
      const op = prog[pc];
      if (op === I_ATOM) stack[sp++] = atoms[prog[pc + 1]];
      else if (op === I_NOT) stack[sp - 1] = TRUE - stack[sp - 1];
      else {
        const n = prog[pc + 1];
        const base = sp - n;
        let r = stack[base];
        if (op === I_ALL) {
          for (let i = base + 1; i < sp; i++) if (stack[i] < r) r = stack[i];
        } else {
          for (let i = base + 1; i < sp; i++) if (stack[i] > r) r = stack[i];
        }
        sp = base;
        stack[sp++] = r;
      }
    }
    return stack[0];
  }
}
