/**
 * Fact rules: data (`rules/fact-rules.v1.json`) that maps report facts and the attestation result
 * to catalog items, and the catalog's `appliesIf` texts to facts.
 *
 * A rule names the items it decides, an `evidenced` condition and optionally a `contradicted`
 * condition (see fact-condition.evaluator.ts for the language). For one device:
 *   - contradicted when `contradicted` is TRUE, or, when the rule has no `contradicted`, when
 *     `evidenced` is FALSE (the facts are there and say no);
 *   - otherwise evidenced when `evidenced` is TRUE;
 *   - otherwise the facts do not settle it (the item is declared or missing).
 * Reasons are plain-words templates; `{path}` inserts a fact's value (`{attestation.status}` too).
 * An `appliesIf` mapping makes its items not applicable only when its condition is FALSE; an
 * unknown applicability (facts absent) leaves the item applicable.
 */
import { invalid } from '@fleetguard/common';
import { catalogIds, type Catalog } from './catalog';
import {
  getter,
  prepareCondition,
  type AttestationStatus,
  type FactCondition,
  type FactValue,
  type PreparedCondition,
} from './fact-condition.evaluator';
import type { FactDescriptor } from './hardening-report.schema';
import { scoringFactsShape } from './observed-facts';
import shippedRules from './rules/fact-rules.v2.json';

export interface FactRule {
  /** Stable rule id, kebab-case (`boot-integrity`). */
  readonly id: string;
  /** Catalog item ids (CR, RE or component-specific) this rule decides. */
  readonly items: readonly string[];
  readonly evidenced: FactCondition;
  readonly contradicted?: FactCondition;
  readonly reasons: { readonly evidenced: string; readonly contradicted: string };
}

export interface ApplicabilityRule {
  /** The catalog's `appliesIf` text, verbatim. */
  readonly appliesIf: string;
  readonly when: FactCondition;
}

export interface FactRules {
  /** e.g. `fact-rules.v2`. */
  readonly version: string;
  /** The catalog version the rules were written against. */
  readonly catalogVersion: string;
  /** The hardening report schema version the fact paths refer to. */
  readonly reportSchemaVersion: number;
  readonly applicability: readonly ApplicabilityRule[];
  readonly rules: readonly FactRule[];
}

/** A reason template split at its `{path}` placeholders. */
export interface ReasonTemplate {
  readonly text: string;
  /** Set when the template has no placeholders. */
  readonly fixed?: string;
  render(facts: object, attestation: AttestationStatus): string;
}

export interface CompiledFactRule {
  readonly id: string;
  readonly items: readonly string[];
  readonly evidenced: PreparedCondition;
  /** null: contradicted when `evidenced` is FALSE. */
  readonly contradicted: PreparedCondition | null;
  readonly reasons: { readonly evidenced: ReasonTemplate; readonly contradicted: ReasonTemplate };
}

export interface CompiledFactRules {
  readonly source: FactRules;
  readonly version: string;
  readonly byItem: ReadonlyMap<string, CompiledFactRule>;
  readonly applicability: ReadonlyMap<string, PreparedCondition>;
}

const RULE_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_REASON = 300;

let shipped: FactRules | undefined;

/** The fact rules shipped with the service (checked against the report schema on first use). */
export function loadFactRules(): FactRules {
  if (!shipped) {
    const rules = shippedRules as unknown as FactRules;
    compileFactRules(rules); // throws if the shipped data is wrong
    shipped = rules;
  }
  return shipped;
}

const compiledCache = new WeakMap<FactRules, CompiledFactRules>();

/**
 * Checks rules data (shape, rule ids, fact paths and operators against the report schema, reason
 * placeholders) and compiles its conditions. With a catalog, also checks that every item id and
 * every `appliesIf` text exists there and that the versions match. Throws
 * `hardening.invalid-rules` listing the problems.
 */
export function compileFactRules(rules: FactRules, catalog?: Catalog): CompiledFactRules {
  let compiled = compiledCache.get(rules);
  if (!compiled) {
    compiled = compileUncached(rules);
    compiledCache.set(rules, compiled);
  }
  if (catalog) checkAgainstCatalog(compiled, catalog);
  return compiled;
}

function fail(problems: string[]): never {
  throw invalid('hardening.invalid-rules', `invalid fact rules: ${problems.slice(0, 20).join('; ')}`, { problems });
}

function compileUncached(rules: FactRules): CompiledFactRules {
  const problems: string[] = [];
  const r = rules as unknown as Record<string, unknown>;
  if (typeof r !== 'object' || r === null) fail(['rules must be an object']);
  const extra = Object.keys(r).filter(
    (k) => !['version', 'catalogVersion', 'reportSchemaVersion', 'description', 'applicability', 'rules'].includes(k),
  );
  if (extra.length) problems.push(`unexpected top-level ${extra.join(', ')}`);
  if (typeof r.version !== 'string' || !r.version) problems.push('version must be a non-empty string');
  if (typeof r.catalogVersion !== 'string' || !r.catalogVersion) problems.push('catalogVersion must be a non-empty string');
  if (r.reportSchemaVersion !== 1) problems.push('reportSchemaVersion must be 1');
  if (!Array.isArray(r.rules)) problems.push('rules must be an array');
  if (!Array.isArray(r.applicability)) problems.push('applicability must be an array');
  if (problems.length) fail(problems);

  const shape = scoringFactsShape();
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      const details = (e as { details?: { problems?: string[] } }).details;
      problems.push(...(details?.problems ?? [(e as Error).message]));
      return undefined;
    }
  };

  const byItem = new Map<string, CompiledFactRule>();
  const ruleIds = new Set<string>();
  rules.rules.forEach((rule, i) => {
    const at = typeof rule?.id === 'string' ? `rule ${rule.id}` : `rules[${i}]`;
    if (typeof rule !== 'object' || rule === null) return void problems.push(`${at} must be an object`);
    const extraKeys = Object.keys(rule).filter((k) => !['id', 'items', 'evidenced', 'contradicted', 'reasons', 'note'].includes(k));
    if (extraKeys.length) problems.push(`${at}: unexpected ${extraKeys.join(', ')}`);
    if (typeof rule.id !== 'string' || !RULE_ID.test(rule.id)) problems.push(`${at}: id must be kebab-case`);
    else if (ruleIds.has(rule.id)) problems.push(`${at}: id used twice`);
    else ruleIds.add(rule.id);
    if (!Array.isArray(rule.items) || !rule.items.length || !rule.items.every((x) => typeof x === 'string')) {
      problems.push(`${at}: items must be a non-empty list of catalog ids`);
      return;
    }
    const reasons = rule.reasons as Record<string, unknown> | undefined;
    if (
      typeof reasons !== 'object' ||
      reasons === null ||
      Object.keys(reasons).some((k) => k !== 'evidenced' && k !== 'contradicted') ||
      typeof reasons.evidenced !== 'string' ||
      typeof reasons.contradicted !== 'string'
    ) {
      problems.push(`${at}: reasons must have evidenced and contradicted texts`);
      return;
    }
    const evidenced = attempt(() => prepareCondition(rule.evidenced, shape, `${at}.evidenced`));
    const contradicted =
      rule.contradicted === undefined ? null : attempt(() => prepareCondition(rule.contradicted, shape, `${at}.contradicted`));
    const evidencedReason = attempt(() => compileTemplate(rule.reasons.evidenced, shape, `${at}.reasons.evidenced`));
    const contradictedReason = attempt(() => compileTemplate(rule.reasons.contradicted, shape, `${at}.reasons.contradicted`));
    if (!evidenced || contradicted === undefined || !evidencedReason || !contradictedReason) return;
    const compiled: CompiledFactRule = {
      id: rule.id,
      items: rule.items,
      evidenced,
      contradicted,
      reasons: { evidenced: evidencedReason, contradicted: contradictedReason },
    };
    for (const item of rule.items) {
      if (byItem.has(item)) problems.push(`${at}: ${item} is already decided by rule ${byItem.get(item)!.id}`);
      else byItem.set(item, compiled);
    }
  });

  const applicability = new Map<string, PreparedCondition>();
  rules.applicability.forEach((a, i) => {
    const at = typeof a?.appliesIf === 'string' ? `applicability "${a.appliesIf}"` : `applicability[${i}]`;
    if (typeof a !== 'object' || a === null || typeof a.appliesIf !== 'string') return void problems.push(`${at} needs appliesIf text`);
    const extraKeys = Object.keys(a).filter((k) => k !== 'appliesIf' && k !== 'when');
    if (extraKeys.length) problems.push(`${at}: unexpected ${extraKeys.join(', ')}`);
    if (applicability.has(a.appliesIf)) return void problems.push(`${at} is mapped twice`);
    const when = attempt(() => prepareCondition(a.when, shape, `${at}.when`));
    if (when) applicability.set(a.appliesIf, when);
  });

  if (problems.length) fail(problems);
  return { source: rules, version: rules.version, byItem, applicability };
}

function checkAgainstCatalog(compiled: CompiledFactRules, catalog: Catalog): void {
  const problems: string[] = [];
  if (compiled.source.catalogVersion !== catalog.version) {
    problems.push(`rules ${compiled.version} were written for catalog ${compiled.source.catalogVersion}, not ${catalog.version}`);
  }
  const ids = catalogIds(catalog);
  const placeholders = new Set(catalog.items.filter((e) => e.sl === null).map((e) => e.id));
  for (const [item, rule] of compiled.byItem) {
    if (!ids.has(item)) problems.push(`rule ${rule.id}: ${item} is not in catalog ${catalog.version}`);
    else if (placeholders.has(item)) problems.push(`rule ${rule.id}: ${item} carries no requirement of its own`);
  }
  const texts = new Set(catalog.items.map((e) => e.appliesIf).filter((t): t is string => !!t));
  for (const text of compiled.applicability.keys()) {
    if (!texts.has(text)) problems.push(`applicability "${text}" matches no appliesIf in catalog ${catalog.version}`);
  }
  if (problems.length) fail(problems);
}

// ---- reason templates --------------------------------------------------------------------------

const PLACEHOLDER = /\{([A-Za-z0-9_.]+)\}/g;

function lookup(shape: FactDescriptor, path: string): FactDescriptor | undefined {
  let d: FactDescriptor | undefined = shape;
  for (const seg of path.split('.')) d = d?.fields?.get(seg);
  return d;
}

/** Formats a fact value for a reason: strings bare, lists comma-separated, absent as "unknown". */
export function formatFactValue(value: unknown): string {
  if (value === undefined) return 'unknown';
  if (Array.isArray(value)) return value.length ? value.map((v) => formatFactValue(v)).join(', ') : 'none';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** `a.b = true, c = "x"`; absent facts read `absent`. */
export function formatFacts(facts: readonly FactValue[]): string {
  let s = '';
  for (let i = 0; i < facts.length; i++) {
    const v = facts[i].value;
    const shown =
      v === undefined ? 'absent' : typeof v === 'boolean' || typeof v === 'number' ? String(v) : JSON.stringify(v);
    s += (i ? ', ' : '') + facts[i].fact + ' = ' + shown;
  }
  return s;
}

function compileTemplate(text: string, shape: FactDescriptor, where: string): ReasonTemplate {
  if (!text.trim() || text.length > MAX_REASON) {
    throw invalid('hardening.invalid-rules', `${where} must be 1..${MAX_REASON} characters`, {
      problems: [`${where} must be 1..${MAX_REASON} characters`],
    });
  }
  const parts: (string | ((f: object, a: AttestationStatus) => unknown))[] = [];
  let last = 0;
  const problems: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    parts.push(text.slice(last, m.index));
    const path = m[1];
    if (path === 'attestation.status') parts.push((_f, a) => a);
    else if (lookup(shape, path)) {
      const get = getter(path);
      parts.push((f) => get(f));
    } else problems.push(`${where}: {${path}} is not a fact`);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(text.slice(last));
  if (problems.length) throw invalid('hardening.invalid-rules', problems.join('; '), { problems });
  if (parts.length === 1) return { text, fixed: text, render: () => text };
  return {
    text,
    render: (f, a) => parts.map((p) => (typeof p === 'string' ? p : formatFactValue(p(f, a)))).join(''),
  };
}
