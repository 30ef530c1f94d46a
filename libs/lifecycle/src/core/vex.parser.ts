import { DomainError, invalid } from '@fleetguard/common';
import { canonicalPurl, checkCpe, clip } from './component';
import { ProductStatus, parseCsaf } from './csaf.advisory';
import { ProductMatcher } from './product-matcher';

export type VexFormat = 'openvex' | 'cyclonedx-vex' | 'csaf-vex';

export interface VexStatement {
  vulnerability: string;
  status: ProductStatus;
  justification?: string;
  impactStatement?: string;
  /** The products (or components) the statement is about; it holds for a component that any of them matches. */
  products: ProductMatcher[];
}

export interface ParsedVex {
  format: VexFormat;
  statements: VexStatement[];
}

export const VEX_MAX_STATEMENTS = 10_000;

const OPENVEX_STATUS: Record<string, ProductStatus> = { not_affected: 'not_affected', affected: 'affected', fixed: 'fixed', under_investigation: 'under_investigation' };
const CDX_STATE: Record<string, ProductStatus> = {
  not_affected: 'not_affected',
  false_positive: 'not_affected',
  exploitable: 'affected',
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  in_triage: 'under_investigation',
};

/** Recognises OpenVEX, CycloneDX VEX (JSON) or CSAF VEX and reads its statements. */
export async function parseVex(doc: unknown): Promise<ParsedVex> {
  if (!isObject(doc)) throw invalid('vex.invalid', 'a VEX document is a JSON object');
  let parsed: ParsedVex;
  if (typeof doc['@context'] === 'string' && doc['@context'].startsWith('https://openvex.dev/ns')) parsed = parseOpenVex(doc);
  else if (doc.bomFormat === 'CycloneDX') parsed = parseCycloneDxVex(doc);
  else if (isObject(doc.document) && doc.document.category === 'csaf_vex') parsed = await parseCsafVex(doc);
  else throw new DomainError('vex.unknown-format', 'a VEX document is OpenVEX (@context https://openvex.dev/ns/...), CycloneDX with vulnerabilities, or CSAF with category csaf_vex', 'unsupported');
  if (!parsed.statements.length) throw invalid('vex.empty', 'the VEX document makes no statement');
  if (parsed.statements.length > VEX_MAX_STATEMENTS) throw new DomainError('vex.too-large', `a VEX document may make at most ${VEX_MAX_STATEMENTS} statements`, 'too-large');
  parsed.statements.forEach((s, i) => {
    if (s.status === 'not_affected' && !s.justification && !s.impactStatement) {
      throw invalid('vex.no-justification', `statement ${i + 1} (${s.vulnerability}): not_affected needs a justification`);
    }
  });
  return parsed;
}

function productFromId(id: unknown, where: string): ProductMatcher {
  if (typeof id !== 'string' || !id) throw invalid('vex.bad-product', `${where}: a product is identified by a purl or a CPE`);
  if (id.startsWith('pkg:')) return { purl: canonicalPurl(id, where) };
  if (id.startsWith('cpe:')) return { cpe: checkCpe(id, where) };
  throw invalid('vex.bad-product', `${where}: '${clip(id)}' is neither a purl nor a CPE`);
}

function parseOpenVex(doc: Record<string, any>): ParsedVex {
  if (!Array.isArray(doc.statements)) throw invalid('vex.invalid', 'an OpenVEX document has a statements array');
  const statements = doc.statements.map((s: any, i: number): VexStatement => {
    const where = `statements[${i}]`;
    if (!isObject(s)) throw invalid('vex.invalid', `${where} must be an object`);
    const vuln = typeof s.vulnerability === 'string' ? s.vulnerability : s.vulnerability?.name;
    if (typeof vuln !== 'string' || !vuln) throw invalid('vex.invalid', `${where}: vulnerability.name is required`);
    const status = OPENVEX_STATUS[s.status];
    if (!status) throw invalid('vex.bad-status', `${where}: status '${clip(String(s.status))}' is none of ${Object.keys(OPENVEX_STATUS).join(', ')}`);
    if (!Array.isArray(s.products) || !s.products.length) throw invalid('vex.invalid', `${where}: products is a non-empty array`);
    const products: ProductMatcher[] = [];
    s.products.forEach((p: any, k: number) => {
      const pw = `${where}.products[${k}]`;
      if (typeof p === 'string') return void products.push(productFromId(p, pw));
      if (!isObject(p)) throw invalid('vex.bad-product', `${pw} must be an object or a string`);
      // Subcomponents narrow the statement to those components of the product.
      if (Array.isArray(p.subcomponents) && p.subcomponents.length) {
        p.subcomponents.forEach((sc: any, j: number) => products.push(identified(sc, `${pw}.subcomponents[${j}]`)));
      } else products.push(identified(p, pw));
    });
    return { vulnerability: vuln, status, ...(s.justification ? { justification: String(s.justification) } : {}), ...(s.impact_statement ? { impactStatement: String(s.impact_statement) } : {}), products };
  });
  return { format: 'openvex', statements };
}

function identified(p: any, where: string): ProductMatcher {
  if (!isObject(p)) throw invalid('vex.bad-product', `${where} must be an object`);
  const ids = isObject(p.identifiers) ? p.identifiers : {};
  if (typeof ids.purl === 'string') return { purl: canonicalPurl(ids.purl, where) };
  if (typeof ids.cpe23 === 'string') return { cpe: checkCpe(ids.cpe23, where) };
  if (typeof ids.cpe22 === 'string') return { cpe: checkCpe(ids.cpe22, where) };
  return productFromId(p['@id'], where);
}

function parseCycloneDxVex(doc: Record<string, any>): ParsedVex {
  if (!Array.isArray(doc.vulnerabilities)) throw invalid('vex.invalid', 'a CycloneDX VEX document has a vulnerabilities array');
  const refs = new Map<string, ProductMatcher>();
  const index = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const c of list) {
      if (!isObject(c) || typeof c['bom-ref'] !== 'string') continue;
      const m: ProductMatcher = {};
      if (typeof c.purl === 'string') m.purl = canonicalPurl(c.purl, `component '${clip(c['bom-ref'])}'`);
      if (typeof c.cpe === 'string') m.cpe = checkCpe(c.cpe, `component '${clip(c['bom-ref'])}'`);
      if (typeof c.name === 'string' && typeof c.version === 'string') Object.assign(m, { name: c.name, version: c.version });
      refs.set(c['bom-ref'], m);
      index(c.components);
    }
  };
  index(doc.components);
  if (isObject(doc.metadata) && isObject(doc.metadata.component)) index([doc.metadata.component]);
  const statements = doc.vulnerabilities.map((v: any, i: number): VexStatement => {
    const where = `vulnerabilities[${i}]`;
    if (!isObject(v) || typeof v.id !== 'string' || !v.id) throw invalid('vex.invalid', `${where}: id is required`);
    const state = v.analysis?.state;
    const status = CDX_STATE[state];
    if (!status) throw invalid('vex.bad-status', `${where}: analysis.state '${clip(String(state))}' is none of ${Object.keys(CDX_STATE).join(', ')}`);
    if (!Array.isArray(v.affects) || !v.affects.length) throw invalid('vex.invalid', `${where}: affects is a non-empty array`);
    const products = v.affects.map((a: any, k: number): ProductMatcher => {
      const ref = a?.ref;
      // The ref is a bom-ref of this document, a BOM-Link into another (urn:cdx:...#<bom-ref>), or a purl.
      const local = typeof ref === 'string' ? (refs.get(ref) ?? refs.get(ref.replace(/^urn:cdx:[^#]*#/, ''))) : undefined;
      if (local && (local.purl || local.cpe || local.name)) return local;
      if (typeof ref === 'string' && ref.startsWith('pkg:')) return { purl: canonicalPurl(ref, `${where}.affects[${k}]`) };
      throw invalid('vex.bad-product', `${where}.affects[${k}]: ref '${clip(String(ref))}' names no component of this document with a purl, CPE or name and version`);
    });
    const justification = v.analysis?.justification ?? (state === 'false_positive' ? 'false_positive' : undefined);
    return { vulnerability: v.id, status, ...(justification ? { justification: String(justification) } : {}), ...(v.analysis?.detail ? { impactStatement: String(v.analysis.detail) } : {}), products };
  });
  return { format: 'cyclonedx-vex', statements };
}

async function parseCsafVex(doc: unknown): Promise<ParsedVex> {
  const csaf = await parseCsaf(doc);
  const byId = new Map(csaf.products.map((p) => [p.productId, p]));
  const grouped = new Map<string, VexStatement>();
  for (const s of csaf.statements) {
    const p = byId.get(s.productId);
    if (!p) continue;
    const key = `${s.vulnerability}\u0000${s.status}\u0000${s.justification ?? ''}`;
    let st = grouped.get(key);
    if (!st) grouped.set(key, (st = { vulnerability: s.vulnerability, status: s.status, ...(s.justification ? { justification: s.justification } : {}), products: [] }));
    const { productId: _id, ...matcher } = p;
    st.products.push(matcher);
  }
  return { format: 'csaf-vex', statements: [...grouped.values()] };
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
