import * as semver from 'semver';
import { SbomComponent, cpeMatches, purlKey } from './component';

/**
 * What an advisory or a VEX statement says a product is: any of a package URL, a CPE, or a name
 * with an exact version or a version range. A component matches when one of them does.
 */
export interface ProductMatcher {
  name?: string;
  version?: string;
  /** A `vers:` range (`vers:semver/>=1.0.0|<2.0.0`) or plain comparators (`>=1.0 <2.0`). */
  range?: string;
  purl?: string;
  cpe?: string;
}

export interface MatchableComponent extends SbomComponent {
  /** Precomputed purlKey(purl).key. */
  purlKey?: string | null;
}

/** Compares versions: semver when both are, else dotted segments (numbers numerically). */
export function compareVersions(a: string, b: string): number {
  const sa = semver.valid(a.replace(/^v/i, ''), { loose: true });
  const sb = semver.valid(b.replace(/^v/i, ''), { loose: true });
  if (sa && sb) return semver.compare(sa, sb, { loose: true });
  const ta = a.replace(/^v/i, '').split(/[.\-+_~:]/);
  const tb = b.replace(/^v/i, '').split(/[.\-+_~:]/);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=' | '!=';
interface Constraint {
  op: Op;
  v: string;
}

/** Parses a range; null when it is not one we can read (then it never matches, rather than always). */
export function parseRange(range: string): { any: true } | { any: false; constraints: Constraint[] } | null {
  let body = range.trim();
  const vers = /^vers:[a-z0-9.+-]+\/(.*)$/i.exec(body);
  let parts: string[];
  if (vers) {
    body = vers[1].trim();
    if (body === '*') return { any: true };
    parts = body.split('|');
  } else {
    parts = body.split(/[\s,]+|\|\|?/);
  }
  const constraints: Constraint[] = [];
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    const m = /^(<=|>=|!=|<|>|=)?\s*(\S+)$/.exec(raw);
    if (!m) return null;
    constraints.push({ op: (m[1] as Op | undefined) ?? '=', v: decodeURIComponent(m[2]) });
  }
  if (!constraints.length) return null;
  return { any: false, constraints };
}

/** The vers containment algorithm (vers spec: equalities first, then ordered ranges). */
export function inRange(version: string, range: string): boolean {
  const r = parseRange(range);
  if (!r) return false;
  if (r.any) return true;
  for (const c of r.constraints) {
    if (c.op === '=' && compareVersions(version, c.v) === 0) return true;
    if (c.op === '!=' && compareVersions(version, c.v) === 0) return false;
  }
  const ordered = r.constraints.filter((c) => c.op !== '=' && c.op !== '!=').sort((a, b) => compareVersions(a.v, b.v));
  if (!ordered.length) return false;
  const test = (c: Constraint) => {
    const k = compareVersions(version, c.v);
    return c.op === '<' ? k < 0 : c.op === '<=' ? k <= 0 : c.op === '>' ? k > 0 : k >= 0;
  };
  for (let i = 0; i < ordered.length; i++) {
    const c = ordered[i];
    const lower = c.op === '>' || c.op === '>=';
    if (!lower) {
      // An upper bound with no lower bound before it.
      if (i === 0 && test(c)) return true;
      continue;
    }
    const next = ordered[i + 1];
    if (next && (next.op === '<' || next.op === '<=')) {
      if (test(c) && test(next)) return true;
      i++;
    } else if (!next && test(c)) return true;
  }
  return false;
}

function versionOk(m: ProductMatcher, version: string | null): boolean {
  if (m.version) return version !== null && compareVersions(version, m.version) === 0;
  if (m.range) return version !== null && inRange(version, m.range);
  return true;
}

/** How a matcher matched a component, or null. */
export function matchComponent(m: ProductMatcher, c: MatchableComponent): 'purl' | 'cpe' | 'name' | null {
  if (m.purl && c.purl) {
    const want = purlKey(m.purl);
    const have = c.purlKey !== undefined ? c.purlKey : (purlKey(c.purl)?.key ?? null);
    if (want && have && want.key === have) {
      const cv = purlKey(c.purl)?.version ?? c.version;
      if (want.version ? cv !== null && compareVersions(cv, want.version) === 0 : versionOk(m, cv)) return 'purl';
    }
  }
  if (m.cpe && c.cpe && cpeMatches(m.cpe, c.cpe) && (m.version || m.range ? versionOk(m, c.version) : true)) return 'cpe';
  if (m.name && !m.purl && !m.cpe && (m.version || m.range) && c.name.toLowerCase() === m.name.toLowerCase() && versionOk(m, c.version)) return 'name';
  if (m.name && (m.purl || m.cpe) && !c.purl && !c.cpe && (m.version || m.range) && c.name.toLowerCase() === m.name.toLowerCase() && versionOk(m, c.version)) return 'name';
  return null;
}
