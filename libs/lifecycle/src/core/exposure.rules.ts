import { AdvisoryProduct, AdvisoryStatement, Cvss } from './csaf.advisory';
import { MatchableComponent, ProductMatcher, matchComponent } from './product-matcher';
import { VexStatement } from './vex.parser';

/** A component of a release that an advisory says is affected, and nothing says otherwise. */
export interface ReleaseFinding {
  vulnerability: string;
  component: { name: string; version: string | null; purl?: string; cpe?: string };
  matchedBy: 'purl' | 'cpe' | 'name';
  cvss?: Cvss;
}

export interface AdvisoryForMatching {
  products: AdvisoryProduct[];
  statements: AdvisoryStatement[];
  cvss: Record<string, Cvss | undefined>;
}

/**
 * The affected components of one release: every component (and the release itself, as
 * `{name: product name, version: release version}`) that an `affected` product of the advisory
 * matches, less those for which the advisory itself, or the latest VEX statement about that
 * vulnerability that matches the component or the release, says `not_affected` or `fixed`.
 * `vex` is in the order the statements were made (oldest first).
 */
export function affectedComponents(release: MatchableComponent, components: MatchableComponent[], advisory: AdvisoryForMatching, vex: VexStatement[]): ReleaseFinding[] {
  const byId = new Map(advisory.products.map((p) => [p.productId, p]));
  const all = [release, ...components];
  const findings = new Map<string, ReleaseFinding>();
  const cleared = (vuln: string, c: MatchableComponent) => {
    for (const s of advisory.statements) {
      if (s.vulnerability !== vuln || (s.status !== 'not_affected' && s.status !== 'fixed')) continue;
      const p = byId.get(s.productId);
      if (p && matchComponent(p, c)) return true;
    }
    let latest: VexStatement | undefined;
    for (const s of vex) {
      if (s.vulnerability !== vuln) continue;
      if (s.products.some((p: ProductMatcher) => matchComponent(p, c) || matchComponent(p, release))) latest = s;
    }
    return latest !== undefined && (latest.status === 'not_affected' || latest.status === 'fixed');
  };
  for (const s of advisory.statements) {
    if (s.status !== 'affected') continue;
    const p = byId.get(s.productId);
    if (!p) continue;
    for (const c of all) {
      const how = matchComponent(p, c);
      if (!how) continue;
      const key = `${s.vulnerability}\u0000${c.name}\u0000${c.version}\u0000${c.purl ?? ''}`;
      if (findings.has(key) || cleared(s.vulnerability, c)) continue;
      findings.set(key, {
        vulnerability: s.vulnerability,
        component: { name: c.name, version: c.version, ...(c.purl ? { purl: c.purl } : {}), ...(c.cpe ? { cpe: c.cpe } : {}) },
        matchedBy: how,
        ...(advisory.cvss[s.vulnerability] ? { cvss: advisory.cvss[s.vulnerability] } : {}),
      });
    }
  }
  return [...findings.values()];
}

/** The CVSS severity band of a base score (CVSS v3.1 table 14). */
export function severityOf(score: number | null | undefined): 'critical' | 'high' | 'medium' | 'low' | 'none' | 'unknown' {
  if (score === null || score === undefined || Number.isNaN(score)) return 'unknown';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'none';
}
