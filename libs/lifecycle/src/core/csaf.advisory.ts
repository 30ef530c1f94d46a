import { DomainError } from '@fleetguard/common';
import { ProductMatcher } from './product-matcher';

// The BSI's CSAF validator (ES module; Node >= 20.19 requires it from CommonJS).
// The validator compiles its JSON schemas when it is loaded (about 8 s of CPU), so it is loaded
// on the first advisory, not when the lib is: the service, the CLI and every test that loads the
// lifecycle lib would otherwise pay for it at start.
let validator: { validateStrict: (tests: unknown[], doc: unknown) => Promise<CsafValidation>; tests: unknown[] } | undefined;
function csafValidator(): NonNullable<typeof validator> {
  if (!validator) {
    const schemaTests: Record<string, unknown> = require('@secvisogram/csaf-validator-lib/schemaTests.js');
    const mandatoryTests: Record<string, unknown> = require('@secvisogram/csaf-validator-lib/mandatoryTests.js');
    validator = {
      validateStrict: require('@secvisogram/csaf-validator-lib/validateStrict.js').default,
      tests: [schemaTests.csaf_2_0_strict, ...Object.values(mandatoryTests)],
    };
  }
  return validator;
}

interface CsafValidation {
  isValid: boolean;
  tests: Array<{ name: string; isValid: boolean; errors: Array<{ instancePath: string; message: string }> }>;
}

export type ProductStatus = 'affected' | 'fixed' | 'not_affected' | 'under_investigation';

export interface AdvisoryProduct extends ProductMatcher {
  /** The CSAF product_id. */
  productId: string;
}

export interface AdvisoryStatement {
  vulnerability: string;
  productId: string;
  status: ProductStatus;
  /** For not_affected: the flag label or impact threat details. */
  justification?: string;
}

export interface Cvss {
  version: string;
  baseScore: number;
  baseSeverity?: string;
  vectorString: string;
}

export interface AdvisoryVulnerability {
  id: string;
  title?: string;
  /** The highest score the advisory gives this vulnerability. */
  cvss?: Cvss;
}

export interface ParsedCsaf {
  trackingId: string;
  version: string;
  title: string;
  category: string;
  publisher: string;
  products: AdvisoryProduct[];
  vulnerabilities: AdvisoryVulnerability[];
  statements: AdvisoryStatement[];
}

/**
 * Validates a CSAF 2.0 document with the BSI validator (the strict JSON schema and every
 * mandatory test of section 6.1); a failure is a 400 carrying the validator's reasons.
 */
export async function validateCsaf(doc: unknown): Promise<void> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DomainError('csaf.invalid', 'a CSAF document is a JSON object', 'invalid');
  const { validateStrict, tests } = csafValidator();
  const result = await validateStrict(tests, doc);
  if (result.isValid) return;
  const reasons = result.tests
    .filter((t) => !t.isValid)
    .flatMap((t) => t.errors.slice(0, 20).map((e) => ({ test: t.name, instancePath: e.instancePath, message: e.message })))
    .slice(0, 50);
  const first = reasons[0];
  throw new DomainError('csaf.invalid', `the CSAF document is not valid: ${first ? `${first.test}: ${first.instancePath} ${first.message}` : 'rejected by the validator'}`, 'invalid', { reasons });
}

/** A validated CSAF document (csaf_base, csaf_security_advisory, csaf_vex, ...) read into products and statements. */
export async function parseCsaf(doc: unknown): Promise<ParsedCsaf> {
  await validateCsaf(doc);
  const d = doc as any;
  const products = new Map<string, AdvisoryProduct>();
  const walk = (branches: any[] | undefined, ctx: ProductMatcher & { vendor?: string }) => {
    for (const b of branches ?? []) {
      const next: ProductMatcher & { vendor?: string } = { ...ctx };
      if (b.category === 'vendor') next.vendor = b.name;
      if (b.category === 'product_name' || b.category === 'product_family') next.name = b.name;
      if (b.category === 'product_version') next.version = b.name;
      if (b.category === 'product_version_range') next.range = b.name;
      if (b.product) addProduct(products, b.product, next);
      walk(b.branches, next);
    }
  };
  walk(d.product_tree?.branches, {});
  for (const fpn of d.product_tree?.full_product_names ?? []) addProduct(products, fpn, {});
  // "X default_component_of Y": the combined product is X (a component) inside Y; what we match is X.
  for (const rel of d.product_tree?.relationships ?? []) {
    const component = products.get(rel.product_reference);
    const id = rel.full_product_name?.product_id;
    if (component && id && !products.has(id)) products.set(id, { ...component, productId: id });
  }
  const vulnerabilities: AdvisoryVulnerability[] = [];
  const statements: AdvisoryStatement[] = [];
  (d.vulnerabilities ?? []).forEach((v: any, i: number) => {
    const id: string = v.cve ?? v.ids?.[0]?.text ?? `${d.document.tracking.id}#${i + 1}`;
    const vuln: AdvisoryVulnerability = { id, title: v.title };
    for (const s of v.scores ?? []) {
      const c = s.cvss_v3 ?? s.cvss_v2;
      if (!c) continue;
      const cvss: Cvss = { version: String(c.version), baseScore: Number(c.baseScore), baseSeverity: c.baseSeverity, vectorString: c.vectorString };
      if (!vuln.cvss || cvss.baseScore > vuln.cvss.baseScore) vuln.cvss = cvss;
    }
    vulnerabilities.push(vuln);
    const justification = new Map<string, string>();
    for (const f of v.flags ?? []) for (const p of f.product_ids ?? []) justification.set(p, f.label);
    for (const t of v.threats ?? []) if (t.category === 'impact') for (const p of t.product_ids ?? []) if (!justification.has(p)) justification.set(p, t.details);
    const ps = v.product_status ?? {};
    const add = (ids: string[] | undefined, status: ProductStatus) => {
      for (const p of ids ?? []) statements.push({ vulnerability: id, productId: p, status, ...(status === 'not_affected' && justification.get(p) ? { justification: justification.get(p) } : {}) });
    };
    add(ps.known_affected, 'affected');
    add(ps.first_affected, 'affected');
    add(ps.last_affected, 'affected');
    add(ps.fixed, 'fixed');
    add(ps.first_fixed, 'fixed');
    add(ps.known_not_affected, 'not_affected');
    add(ps.under_investigation, 'under_investigation');
  });
  return {
    trackingId: d.document.tracking.id,
    version: d.document.tracking.version,
    title: d.document.title,
    category: d.document.category,
    publisher: d.document.publisher.name,
    products: [...products.values()],
    vulnerabilities,
    statements,
  };
}

function addProduct(into: Map<string, AdvisoryProduct>, p: any, ctx: ProductMatcher): void {
  if (!p?.product_id) return;
  const helper = p.product_identification_helper ?? {};
  const m: AdvisoryProduct = { productId: p.product_id };
  if (ctx.name) m.name = ctx.name;
  if (ctx.version) m.version = ctx.version;
  if (ctx.range) m.range = ctx.range;
  if (typeof helper.purl === 'string') m.purl = helper.purl;
  if (typeof helper.cpe === 'string') m.cpe = helper.cpe;
  into.set(p.product_id, m);
}
