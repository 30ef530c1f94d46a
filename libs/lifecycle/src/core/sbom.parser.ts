import { Spec } from '@cyclonedx/cyclonedx-library';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DomainError } from '@fleetguard/common';
import { MAX_NAME, MAX_VERSION, SbomComponent, badDocument, canonicalPurl, checkCpe, checkText, clip, normaliseHash } from './component';

export type SbomFormat = 'cyclonedx-json' | 'cyclonedx-xml' | 'spdx-json' | 'spdx-tag-value';

export interface ParsedSbom {
  format: SbomFormat;
  /** `1.4`..`1.6` for CycloneDX, `2.2` or `2.3` for SPDX. */
  specVersion: string;
  components: SbomComponent[];
}

/** A release's SBOM is at most this large (the HTTP edge streams it against the same bound). */
export const SBOM_MAX_BYTES = 16 * 1024 * 1024;
export const SBOM_MAX_COMPONENTS = 50_000;
/** CycloneDX components nest; deeper than this is refused rather than recursed into. */
const MAX_DEPTH = 32;

/** CycloneDX versions the library knows and we take (1.4 to 1.6). */
const CDX_VERSIONS = new Set(['1.4', '1.5', '1.6'].filter((v) => Spec.SpecVersionDict[v as Spec.Version] !== undefined));
const SPDX_VERSIONS = new Set(['2.2', '2.3']);

/**
 * Recognises a document from its content (CycloneDX JSON or XML, SPDX JSON or tag-value) and
 * normalises its components. Anything else, or a document that breaks its format's rules, is a
 * DomainError saying what is wrong (never a crash).
 */
export function parseSbom(bytes: Uint8Array): ParsedSbom {
  if (bytes.length > SBOM_MAX_BYTES) throw new DomainError('sbom.too-large', `an SBOM is limited to ${SBOM_MAX_BYTES} bytes`, 'too-large');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badDocument('sbom.not-utf8', 'an SBOM is UTF-8 text');
  }
  text = text.replace(/^\uFEFF/, '');
  const start = text.trimStart();
  if (start.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw badDocument('sbom.bad-json', `the SBOM is not valid JSON: ${(e as Error).message}`);
    }
    if (isObject(doc) && doc.bomFormat === 'CycloneDX') return parseCycloneDxJson(doc);
    if (isObject(doc) && typeof doc.spdxVersion === 'string') return parseSpdxJson(doc);
    throw new DomainError('sbom.unknown-format', 'a JSON SBOM is CycloneDX (bomFormat "CycloneDX") or SPDX (spdxVersion "SPDX-2.x")', 'unsupported');
  }
  if (start.startsWith('<')) return parseCycloneDxXml(text);
  if (/^\s*SPDXVersion\s*:/m.test(text.slice(0, 64 * 1024))) return parseSpdxTagValue(text);
  throw new DomainError('sbom.unknown-format', 'not an SBOM this service reads: CycloneDX 1.4-1.6 (JSON, XML) or SPDX 2.2/2.3 (JSON, tag-value)', 'unsupported');
}

/* ---------------------------------------------------------------- CycloneDX */

function cdxVersion(v: unknown): string {
  if (typeof v !== 'string' || !CDX_VERSIONS.has(v)) {
    throw new DomainError('sbom.unsupported-version', `CycloneDX specVersion '${clip(String(v))}' is not supported (1.4, 1.5 or 1.6)`, 'unsupported');
  }
  return v;
}

function parseCycloneDxJson(doc: Record<string, unknown>): ParsedSbom {
  const specVersion = cdxVersion(doc.specVersion);
  const out: SbomComponent[] = [];
  const meta = doc.metadata;
  if (meta !== undefined && !isObject(meta)) throw badDocument('sbom.bad-field', 'metadata must be an object');
  if (isObject(meta) && meta.component !== undefined) walkCdx([meta.component], 'metadata.component', out, 0, jsonCdx);
  if (doc.components !== undefined) {
    if (!Array.isArray(doc.components)) throw badDocument('sbom.bad-field', 'components must be an array');
    walkCdx(doc.components, 'components', out, 0, jsonCdx);
  }
  return { format: 'cyclonedx-json', specVersion, components: out };
}

interface CdxFields {
  name: unknown;
  group: unknown;
  version: unknown;
  purl: unknown;
  cpe: unknown;
  hashes: Array<{ alg: unknown; content: unknown }>;
  children: unknown[] | undefined;
}

function jsonCdx(c: unknown, where: string): CdxFields {
  if (!isObject(c)) throw badDocument('sbom.bad-component', `${where} must be an object`);
  if (c.hashes !== undefined && !Array.isArray(c.hashes)) throw badDocument('sbom.bad-hash', `${where}.hashes must be an array`);
  if (c.components !== undefined && !Array.isArray(c.components)) throw badDocument('sbom.bad-component', `${where}.components must be an array`);
  const hashes = ((c.hashes as unknown[] | undefined) ?? []).map((h, i) => {
    if (!isObject(h)) throw badDocument('sbom.bad-hash', `${where}.hashes[${i}] must be an object`);
    return { alg: h.alg, content: h.content };
  });
  return { name: c.name, group: c.group, version: c.version, purl: c.purl, cpe: c.cpe, hashes, children: c.components as unknown[] | undefined };
}

function walkCdx(list: unknown[], path: string, out: SbomComponent[], depth: number, read: (c: unknown, where: string) => CdxFields): void {
  if (depth > MAX_DEPTH) throw badDocument('sbom.too-deep', `${path}: components nest deeper than ${MAX_DEPTH} levels`);
  list.forEach((raw, i) => {
    const where = path === 'metadata.component' ? path : `${path}[${i}]`;
    const c = read(raw, where);
    const name = checkText(c.name, MAX_NAME, where, 'name');
    const label = `${where} ('${clip(name, 40)}')`;
    const comp: SbomComponent = { name, version: c.version === undefined || c.version === '' ? null : checkText(c.version, MAX_VERSION, label, 'version') };
    if (c.group !== undefined && c.group !== '') comp.group = checkText(c.group, MAX_NAME, label, 'group');
    if (c.purl !== undefined && c.purl !== '') comp.purl = canonicalPurl(c.purl, label);
    if (c.cpe !== undefined && c.cpe !== '') comp.cpe = checkCpe(c.cpe, label);
    if (c.hashes.length) comp.hashes = Object.fromEntries(c.hashes.map((h, k) => normaliseHash(h.alg, h.content, `${label}.hashes[${k}]`)));
    push(out, comp);
    if (c.children?.length) walkCdx(c.children, `${where}.components`, out, depth + 1, read);
  });
}

const XML_ARRAYS = new Set(['component', 'hash']);
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => XML_ARRAYS.has(name),
});

function parseCycloneDxXml(text: string): ParsedSbom {
  // No DTDs: an SBOM has no use for them, and entity expansion is how XML parsers are attacked.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw badDocument('sbom.xml-dtd', 'an XML SBOM may not carry a DOCTYPE or entity declarations');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw badDocument('sbom.bad-xml', `the SBOM is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const ns = /<(?:([A-Za-z_][\w.-]*):)?bom\b[^>]*?\bxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*["']([^"']*)["']/.exec(text);
  const m = ns && (ns[1] ?? '') === (ns[2] ?? '') ? /^https?:\/\/cyclonedx\.org\/schema\/bom\/(\d+\.\d+)$/.exec(ns[3]) : null;
  if (!m) throw new DomainError('sbom.unknown-format', 'an XML SBOM is a CycloneDX <bom> in the namespace http://cyclonedx.org/schema/bom/<version>', 'unsupported');
  const specVersion = cdxVersion(m[1]);
  let doc: Record<string, unknown>;
  try {
    doc = xml.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw badDocument('sbom.bad-xml', `the SBOM is not readable XML: ${(e as Error).message}`);
  }
  const bom = doc.bom;
  if (!isObject(bom)) throw badDocument('sbom.bad-xml', 'the root element is not <bom>');
  const out: SbomComponent[] = [];
  const metaComponent = isObject(bom.metadata) ? (bom.metadata.component as unknown[] | undefined) : undefined;
  if (metaComponent?.length) walkCdx(metaComponent.slice(0, 1), 'metadata.component', out, 0, xmlCdx);
  const comps = isObject(bom.components) ? bom.components.component : undefined;
  if (Array.isArray(comps)) walkCdx(comps, 'components', out, 0, xmlCdx);
  return { format: 'cyclonedx-xml', specVersion, components: out };
}

function xmlText(v: unknown): unknown {
  if (isObject(v)) return v['#text'] ?? '';
  return v;
}

function xmlCdx(c: unknown, where: string): CdxFields {
  if (!isObject(c)) throw badDocument('sbom.bad-component', `${where} has no <name>`);
  const hashList = isObject(c.hashes) && Array.isArray(c.hashes.hash) ? (c.hashes.hash as unknown[]) : [];
  const hashes = hashList.map((h) => ({ alg: isObject(h) ? h['@alg'] : undefined, content: xmlText(h) }));
  const children = isObject(c.components) && Array.isArray(c.components.component) ? (c.components.component as unknown[]) : undefined;
  return { name: xmlText(c.name), group: xmlText(c.group), version: xmlText(c.version), purl: xmlText(c.purl), cpe: xmlText(c.cpe), hashes, children };
}

/* ---------------------------------------------------------------- SPDX */

function spdxVersion(v: unknown): string {
  const m = typeof v === 'string' ? /^SPDX-(\d+\.\d+)$/.exec(v.trim()) : null;
  if (!m || !SPDX_VERSIONS.has(m[1])) throw new DomainError('sbom.unsupported-version', `SPDX version '${clip(String(v))}' is not supported (SPDX-2.2 or SPDX-2.3)`, 'unsupported');
  return m[1];
}

interface SpdxPackage {
  name: unknown;
  version: unknown;
  refs: Array<{ category: unknown; type: unknown; locator: unknown }>;
  checksums: Array<{ alg: unknown; value: unknown }>;
}

function spdxComponent(p: SpdxPackage, where: string): SbomComponent {
  const name = checkText(p.name, MAX_NAME, where, 'name');
  const label = `${where} ('${clip(name, 40)}')`;
  const v = p.version === undefined || p.version === 'NOASSERTION' || p.version === 'NONE' || p.version === '' ? null : checkText(p.version, MAX_VERSION, label, 'versionInfo');
  const comp: SbomComponent = { name, version: v };
  p.refs.forEach((r, i) => {
    const category = typeof r.category === 'string' ? r.category.toUpperCase().replace('_', '-') : '';
    const type = typeof r.type === 'string' ? r.type : '';
    if (category === 'PACKAGE-MANAGER' && type === 'purl' && !comp.purl) comp.purl = canonicalPurl(r.locator, `${label}.externalRefs[${i}]`);
    if (category === 'SECURITY' && (type === 'cpe23Type' || type === 'cpe22Type') && !comp.cpe) comp.cpe = checkCpe(r.locator, `${label}.externalRefs[${i}]`);
  });
  if (p.checksums.length) comp.hashes = Object.fromEntries(p.checksums.map((c, i) => normaliseHash(c.alg, c.value, `${label}.checksums[${i}]`)));
  return comp;
}

function parseSpdxJson(doc: Record<string, unknown>): ParsedSbom {
  const specVersion = spdxVersion(doc.spdxVersion);
  if (doc.SPDXID !== 'SPDXRef-DOCUMENT') throw badDocument('sbom.bad-field', `an SPDX document's SPDXID is 'SPDXRef-DOCUMENT'`);
  if (doc.packages !== undefined && !Array.isArray(doc.packages)) throw badDocument('sbom.bad-field', 'packages must be an array');
  const out: SbomComponent[] = [];
  ((doc.packages as unknown[] | undefined) ?? []).forEach((raw, i) => {
    const where = `packages[${i}]`;
    if (!isObject(raw)) throw badDocument('sbom.bad-component', `${where} must be an object`);
    if (raw.externalRefs !== undefined && !Array.isArray(raw.externalRefs)) throw badDocument('sbom.bad-field', `${where}.externalRefs must be an array`);
    if (raw.checksums !== undefined && !Array.isArray(raw.checksums)) throw badDocument('sbom.bad-hash', `${where}.checksums must be an array`);
    const refs = ((raw.externalRefs as unknown[] | undefined) ?? []).map((r) => (isObject(r) ? { category: r.referenceCategory, type: r.referenceType, locator: r.referenceLocator } : { category: undefined, type: undefined, locator: undefined }));
    const checksums = ((raw.checksums as unknown[] | undefined) ?? []).map((c) => (isObject(c) ? { alg: c.algorithm, value: c.checksumValue } : { alg: undefined, value: undefined }));
    push(out, spdxComponent({ name: raw.name, version: raw.versionInfo, refs, checksums }, where));
  });
  return { format: 'spdx-json', specVersion, components: out };
}

/** SPDX 2.x tag-value (spec clause 5): `Tag: value` lines, multi-line values in <text>…</text>. */
function parseSpdxTagValue(text: string): ParsedSbom {
  const lines = text.split(/\r?\n/);
  let version: string | null = null;
  const packages: Array<SpdxPackage & { line: number }> = [];
  let current: (SpdxPackage & { line: number }) | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*:\s?(.*)$/.exec(line);
    if (!m) throw badDocument('sbom.bad-tag-value', `line ${i + 1} is not 'Tag: value': '${clip(line.trim(), 60)}'`);
    const tag = m[1];
    let value = m[2].trim();
    if (value.startsWith('<text>')) {
      // A multi-line value runs until </text>, possibly on a later line.
      const startLine = i + 1;
      let acc = value.slice(6);
      while (!acc.includes('</text>')) {
        i++;
        if (i >= lines.length) throw badDocument('sbom.bad-tag-value', `the <text> value of ${tag} (line ${startLine}) never ends with </text>`);
        acc += `\n${lines[i]}`;
      }
      value = acc.slice(0, acc.indexOf('</text>'));
    }
    switch (tag) {
      case 'SPDXVersion':
        if (version === null) version = spdxVersion(value);
        break;
      case 'PackageName':
        current = { name: value, version: undefined, refs: [], checksums: [], line: i + 1 };
        packages.push(current);
        break;
      case 'FileName':
      case 'SnippetSPDXID':
      case 'LicenseID':
        current = null; // files, snippets and licences that follow a package are not its fields
        break;
      case 'PackageVersion':
        if (current) current.version = value;
        break;
      case 'PackageChecksum': {
        if (!current) break;
        const c = /^([A-Za-z0-9-]+)\s*:\s*(\S+)$/.exec(value);
        if (!c) throw badDocument('sbom.bad-hash', `line ${i + 1}: PackageChecksum is 'ALGORITHM: hex'`);
        current.checksums.push({ alg: c[1], value: c[2] });
        break;
      }
      case 'ExternalRef': {
        if (!current) break;
        const r = /^(\S+)\s+(\S+)\s+(\S+)$/.exec(value);
        if (!r) throw badDocument('sbom.bad-tag-value', `line ${i + 1}: ExternalRef is 'CATEGORY TYPE LOCATOR'`);
        current.refs.push({ category: r[1], type: r[2], locator: r[3] });
        break;
      }
      default:
        break;
    }
  }
  if (version === null) throw badDocument('sbom.bad-tag-value', 'an SPDX tag-value document starts with SPDXVersion');
  const out: SbomComponent[] = [];
  for (const p of packages) push(out, spdxComponent(p, `package at line ${p.line}`));
  return { format: 'spdx-tag-value', specVersion: version, components: out };
}

function push(out: SbomComponent[], c: SbomComponent): void {
  if (out.length >= SBOM_MAX_COMPONENTS) throw new DomainError('sbom.too-many-components', `an SBOM may list at most ${SBOM_MAX_COMPONENTS} components`, 'too-large');
  out.push(c);
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
