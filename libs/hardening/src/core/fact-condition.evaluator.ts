/**
 * A small condition language over report facts and the device's attestation result, and its
 * evaluator. Conditions are data (JSON); they are checked against the report schema once and
 * compiled to closures, never to code text (no eval).
 *
 * Three-valued (Kleene) logic, because an absent fact is unknown, not false:
 *   - a fact test on an absent fact is UNKNOWN (except `exists`, which is always true or false);
 *   - `{attestation: s | [s...]}` is TRUE when the status is listed, UNKNOWN when the status is
 *     `none` (no appraisal) and `none` is not listed, FALSE otherwise;
 *   - `all` is the minimum, `any` the maximum, `not` swaps TRUE and FALSE (UNKNOWN stays);
 *   - `every`/`some` quantify `match` over the elements of an array fact (paths in `match` are
 *     relative to the element); an absent array is UNKNOWN, `every` over [] is TRUE, `some` FALSE.
 *
 * Fact tests: `{fact: 'a.b', <op>: value, ...}`; several operators in one test must all hold.
 *   eq, ne        a boolean / number / string
 *   in            the value is one of a list
 *   gte, gt, lte, lt   numeric bounds
 *   contains      an array fact contains the value
 *   subsetOf      every element of an array fact is in the list
 *   nonEmpty      an array fact has (true) / has no (false) elements
 *   exists        the fact is present (true) / absent (false)
 */
import { EAR_STATUSES, invalid } from '@fleetguard/common';
import type { FactDescriptor } from './hardening-report.schema';

export const ATTESTATION_STATUSES = [...EAR_STATUSES, 'stale'] as const;
/** The appraisal of the device's latest attestation (its EAR status), `stale` when too old, `none` when absent. */
export type AttestationStatus = (typeof ATTESTATION_STATUSES)[number];

export type Scalar = string | number | boolean;

export interface FactTest {
  fact: string;
  eq?: Scalar;
  ne?: Scalar;
  in?: Scalar[];
  gte?: number;
  gt?: number;
  lte?: number;
  lt?: number;
  contains?: Scalar;
  subsetOf?: Scalar[];
  nonEmpty?: boolean;
  exists?: boolean;
}

export type FactCondition =
  | { all: FactCondition[] }
  | { any: FactCondition[] }
  | { not: FactCondition }
  | { attestation: AttestationStatus | AttestationStatus[] }
  | { every: string; match: FactCondition }
  | { some: string; match: FactCondition }
  | FactTest;

/** Tri-state truth value: FALSE < UNKNOWN < TRUE, so AND = min, OR = max, NOT = 2 - x. */
export const FALSE = 0;
export const UNKNOWN = 1;
export const TRUE = 2;
export type Truth = 0 | 1 | 2;

/** A fact that decided a condition, with its value (`undefined` when absent). */
export interface FactValue {
  readonly fact: string;
  readonly value: unknown;
}

type Root = object;
export type CompiledCondition = (facts: Root, attestation: AttestationStatus) => Truth;
/**
 * Evaluates like a CompiledCondition and pushes the facts that decided the value onto `out`; paths
 * inside arrays are concrete (`prefix` is e.g. `services[2].`).
 */
type Explainer = (facts: Root, attestation: AttestationStatus, out: FactValue[], prefix: string) => Truth;

interface Node {
  readonly ev: CompiledCondition;
  readonly ex: Explainer;
}

/** A condition checked against the report shape, ready to evaluate fast or explain. */
export interface PreparedCondition {
  readonly source: FactCondition;
  readonly evaluate: CompiledCondition;
  /** Fact paths the condition reads (`attestation.status` for attestation tests), in order. */
  readonly reads: readonly string[];
  /** @internal */
  readonly explainer: Explainer;
}

const FACT_OPS = ['eq', 'ne', 'in', 'gte', 'gt', 'lte', 'lt', 'contains', 'subsetOf', 'nonEmpty', 'exists'] as const;
const MAX_DEPTH = 16;

/**
 * Checks a condition against the report shape and compiles it. Throws
 * `hardening.invalid-rules` naming `where` and every problem.
 */
export function prepareCondition(cond: unknown, shape: FactDescriptor, where: string): PreparedCondition {
  const problems: string[] = [];
  const reads: string[] = [];
  const node = compile(cond, shape, where, '', problems, reads, 0);
  if (problems.length) {
    throw invalid('hardening.invalid-rules', `invalid fact rules: ${problems.join('; ')}`, { problems });
  }
  return { source: cond as FactCondition, evaluate: node.ev, explainer: node.ex, reads: [...new Set(reads)] };
}

const MAX_WITNESSES = 8;

/**
 * Evaluates a prepared condition again, collecting the facts that decided it: for TRUE the facts
 * that made it true, for FALSE those that made it false, for UNKNOWN those that are missing.
 * Paths inside arrays are concrete (`services[2].encrypted`). At most 8 facts are listed.
 */
export function explainCondition(
  prepared: PreparedCondition,
  facts: object,
  attestation: AttestationStatus,
): { value: Truth; facts: FactValue[] } {
  const out: FactValue[] = [];
  const value = prepared.explainer(facts, attestation, out, '');
  if (out.length > MAX_WITNESSES) out.length = MAX_WITNESSES;
  return { value, facts: out };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** The descriptor of a dotted path in a shape, or undefined. */
export function lookupShape(shape: FactDescriptor, path: string): FactDescriptor | undefined {
  let d: FactDescriptor | undefined = shape;
  for (const seg of path.split('.')) {
    d = d?.kind === 'object' ? d.fields?.get(seg) : undefined;
    if (!d) return undefined;
  }
  return d;
}

const NEVER: Node = { ev: () => UNKNOWN, ex: () => UNKNOWN };

function compile(
  cond: unknown,
  shape: FactDescriptor,
  where: string,
  prefix: string,
  problems: string[],
  reads: string[],
  depth: number,
): Node {
  if (depth > MAX_DEPTH) {
    problems.push(`${where}: condition nested deeper than ${MAX_DEPTH}`);
    return NEVER;
  }
  if (!isObject(cond)) {
    problems.push(`${where}: a condition must be an object`);
    return NEVER;
  }
  const keys = Object.keys(cond);
  const has = (k: string) => Object.prototype.hasOwnProperty.call(cond, k);
  const only = (...allowed: string[]) => {
    const extra = keys.filter((k) => !allowed.includes(k));
    if (extra.length) problems.push(`${where}: unexpected ${extra.map((k) => `"${k}"`).join(', ')}`);
  };

  if (has('all') || has('any')) {
    const op = has('all') ? 'all' : 'any';
    only(op);
    const list = cond[op];
    if (!Array.isArray(list) || list.length === 0) {
      problems.push(`${where}: "${op}" needs a non-empty list`);
      return NEVER;
    }
    const parts = list.map((c, i) => compile(c, shape, `${where}.${op}[${i}]`, prefix, problems, reads, depth + 1));
    return op === 'all' ? allOf(parts) : anyOf(parts);
  }
  if (has('not')) {
    only('not');
    const inner = compile(cond.not, shape, `${where}.not`, prefix, problems, reads, depth + 1);
    return {
      ev: (f, a) => (TRUE - inner.ev(f, a)) as Truth,
      ex: (f, a, out, pre) => (TRUE - inner.ex(f, a, out, pre)) as Truth,
    };
  }
  if (has('attestation')) {
    only('attestation');
    const raw = cond.attestation;
    const list = Array.isArray(raw) ? raw : [raw];
    const bad = list.filter((s) => !(ATTESTATION_STATUSES as readonly unknown[]).includes(s));
    if (!list.length || bad.length) {
      problems.push(`${where}: attestation must be one or more of ${ATTESTATION_STATUSES.join(', ')}`);
      return NEVER;
    }
    reads.push('attestation.status');
    const set = new Set(list as AttestationStatus[]);
    const unknownWhenNone = !set.has('none');
    const ev: CompiledCondition = (_f, a) => (set.has(a) ? TRUE : a === 'none' && unknownWhenNone ? UNKNOWN : FALSE);
    return {
      ev,
      ex: (f, a, out) => {
        out.push({ fact: 'attestation.status', value: a });
        return ev(f, a);
      },
    };
  }
  if (has('every') || has('some')) {
    const op = has('every') ? 'every' : 'some';
    only(op, 'match');
    const path = cond[op];
    const d = typeof path === 'string' ? lookupShape(shape, path) : undefined;
    if (!d || d.kind !== 'array' || d.items?.kind !== 'object') {
      problems.push(`${where}: "${op}" must name an array-of-objects fact, not ${JSON.stringify(path)}`);
      return NEVER;
    }
    if (!has('match')) {
      problems.push(`${where}: "${op}" needs "match"`);
      return NEVER;
    }
    reads.push(prefix + (path as string));
    const inner = compile(cond.match, d.items, `${where}.match`, `${prefix}${path as string}[].`, problems, reads, depth + 1);
    return quantifier(op === 'every', path as string, inner);
  }
  if (has('fact')) return compileTest(cond, shape, where, prefix, problems, reads);
  problems.push(`${where}: expected one of all, any, not, attestation, every, some, fact`);
  return NEVER;
}

/**
 * Kleene AND (`isAll`) or OR over parts. The explainer keeps the facts of the deciding parts: for
 * a short-circuit value (AND→FALSE, OR→TRUE) the first part with it, otherwise every part with the
 * result's value.
 */
function junction(parts: Node[], isAll: boolean): Node {
  if (parts.length === 1) return parts[0];
  const decisive: Truth = isAll ? FALSE : TRUE;
  const neutral: Truth = isAll ? TRUE : FALSE;
  const ev: CompiledCondition = (f, a) => {
    let r: Truth = neutral;
    for (let i = 0; i < parts.length; i++) {
      const v = parts[i].ev(f, a);
      if (v === decisive) return decisive;
      if (v === UNKNOWN) r = UNKNOWN;
    }
    return r;
  };
  const ex: Explainer = (f, a, out, pre) => {
    const value = ev(f, a);
    for (let i = 0; i < parts.length; i++) {
      if (parts[i].ev(f, a) !== value) continue;
      parts[i].ex(f, a, out, pre);
      if (value === decisive) break;
    }
    return value;
  };
  return { ev, ex };
}
const allOf = (parts: Node[]) => junction(parts, true);
const anyOf = (parts: Node[]) => junction(parts, false);

function quantifier(isEvery: boolean, path: string, inner: Node): Node {
  const get = getter(path);
  const decisive: Truth = isEvery ? FALSE : TRUE;
  const neutral: Truth = isEvery ? TRUE : FALSE;
  const ev: CompiledCondition = (f, a) => {
    const arr = get(f);
    if (!Array.isArray(arr)) return UNKNOWN;
    let r: Truth = neutral;
    for (let i = 0; i < arr.length; i++) {
      const el = arr[i];
      const v = isObject(el) ? inner.ev(el, a) : UNKNOWN;
      if (v === decisive) return decisive;
      if (v === UNKNOWN) r = UNKNOWN;
    }
    return r;
  };
  const ex: Explainer = (f, a, out, pre) => {
    const arr = get(f);
    const value = ev(f, a);
    if (!Array.isArray(arr) || arr.length === 0) {
      out.push({ fact: pre + path, value: arr });
      return value;
    }
    for (let i = 0; i < arr.length; i++) {
      const el = arr[i];
      if (!isObject(el)) continue;
      if (inner.ev(el, a) !== value) continue;
      inner.ex(el, a, out, `${pre}${path}[${i}].`);
      if (value === decisive || out.length >= MAX_WITNESSES) break;
    }
    return value;
  };
  return { ev, ex };
}

/** A property reader for a dotted path, tolerant of absent or non-object intermediates. */
export function getter(path: string): (root: object) => unknown {
  const segs = path.split('.');
  if (segs.length === 1) {
    const [a] = segs;
    return (o) => (o as Record<string, unknown>)[a];
  }
  if (segs.length === 2) {
    const [a, b] = segs;
    return (o) => {
      const x = (o as Record<string, unknown>)[a];
      return typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[b] : undefined;
    };
  }
  return (o) => {
    let x: unknown = o;
    for (const s of segs) {
      if (typeof x !== 'object' || x === null) return undefined;
      x = (x as Record<string, unknown>)[s];
    }
    return x;
  };
}

function compileTest(
  cond: Record<string, unknown>,
  shape: FactDescriptor,
  where: string,
  prefix: string,
  problems: string[],
  reads: string[],
): Node {
  const path = cond.fact;
  const at = `${where} (fact ${JSON.stringify(path)})`;
  const d = typeof path === 'string' ? lookupShape(shape, path) : undefined;
  if (!d) {
    problems.push(`${at}: no such fact in the hardening report schema`);
    return NEVER;
  }
  const ops = Object.keys(cond).filter((k) => k !== 'fact');
  const unknownOps = ops.filter((k) => !(FACT_OPS as readonly string[]).includes(k));
  if (unknownOps.length) problems.push(`${at}: unknown operator ${unknownOps.map((k) => `"${k}"`).join(', ')}`);
  if (!ops.length) problems.push(`${at}: needs an operator (${FACT_OPS.join(', ')})`);

  const scalarFits = (v: unknown, desc: FactDescriptor): boolean => {
    if (desc.kind === 'boolean') return typeof v === 'boolean';
    if (desc.kind === 'integer') return typeof v === 'number' && Number.isFinite(v);
    if (desc.kind === 'string') return typeof v === 'string' && (!desc.enum || desc.enum.includes(v));
    return false;
  };
  const check = (ok: boolean, op: string, what: string) => {
    if (!ok) problems.push(`${at}: "${op}" ${what}`);
  };
  const tests: ((v: unknown) => boolean)[] = [];
  for (const op of ops) {
    const x = cond[op];
    switch (op) {
      case 'eq':
      case 'ne':
        check(isScalar(x) && scalarFits(x, d), op, `needs a ${d.kind}${d.enum ? ` (${d.enum.join('|')})` : ''} value`);
        tests.push(op === 'eq' ? (v) => v === x : (v) => v !== x);
        break;
      case 'in': {
        const ok = Array.isArray(x) && x.length > 0 && x.every((e) => isScalar(e) && scalarFits(e, d));
        check(ok, op, `needs a non-empty list of ${d.kind} values${d.enum ? ` (${d.enum.join('|')})` : ''}`);
        const set = new Set(Array.isArray(x) ? x : []);
        tests.push((v) => set.has(v as Scalar));
        break;
      }
      case 'gte':
      case 'gt':
      case 'lte':
      case 'lt': {
        check(d.kind === 'integer' && typeof x === 'number' && Number.isFinite(x), op, 'needs an integer fact and a number');
        const n = x as number;
        const cmp =
          op === 'gte'
            ? (v: number) => v >= n
            : op === 'gt'
              ? (v: number) => v > n
              : op === 'lte'
                ? (v: number) => v <= n
                : (v: number) => v < n;
        tests.push((v) => typeof v === 'number' && cmp(v));
        break;
      }
      case 'contains':
        check(d.kind === 'array' && !!d.items && isScalar(x) && scalarFits(x, d.items), op, 'needs an array fact and a value its elements can take');
        tests.push((v) => Array.isArray(v) && v.includes(x));
        break;
      case 'subsetOf': {
        const ok = d.kind === 'array' && !!d.items && Array.isArray(x) && x.every((e) => isScalar(e) && scalarFits(e, d.items!));
        check(ok, op, 'needs an array fact and a list of values its elements can take');
        const set = new Set(Array.isArray(x) ? x : []);
        tests.push((v) => Array.isArray(v) && v.every((e) => set.has(e)));
        break;
      }
      case 'nonEmpty':
        check(d.kind === 'array' && typeof x === 'boolean', op, 'needs an array fact and true or false');
        tests.push((v) => Array.isArray(v) && v.length > 0 === x);
        break;
      case 'exists':
        check(typeof x === 'boolean', op, 'needs true or false');
        break;
    }
  }
  reads.push(prefix + (path as string));
  const get = getter(path as string);
  const existsWanted = cond.exists as boolean | undefined;
  let truth: (v: unknown) => Truth;
  if (existsWanted !== undefined) {
    // `exists` is two-valued: it is the one test that speaks about absence.
    truth = (v) => {
      if (v === undefined) return existsWanted ? FALSE : TRUE;
      if (!existsWanted) return FALSE;
      for (const t of tests) if (!t(v)) return FALSE;
      return TRUE;
    };
  } else if (tests.length === 1) {
    const [t] = tests;
    truth = (v) => (v === undefined ? UNKNOWN : t(v) ? TRUE : FALSE);
  } else {
    truth = (v) => {
      if (v === undefined) return UNKNOWN;
      for (const t of tests) if (!t(v)) return FALSE;
      return TRUE;
    };
  }
  const rel = path as string;
  return {
    ev: (f) => truth(get(f)),
    ex: (f, _a, out, pre) => {
      const v = get(f);
      out.push({ fact: pre ? pre + rel : rel, value: v });
      return truth(v);
    },
  };
}
