import { PackageURL } from 'packageurl-js';
import { DomainError, invalid } from '@fleetguard/common';

/** A software component of a release, whatever document it came from. */
export interface SbomComponent {
  name: string;
  /** CycloneDX's group (an npm scope, a Maven group id), when given. */
  group?: string;
  /** null when the document gives none (SPDX `NOASSERTION`, a CycloneDX component without one). */
  version: string | null;
  /** Canonical package URL (packageurl-js), when the document gives one. */
  purl?: string;
  /** CPE 2.3 formatted string or CPE 2.2 URI, as given. */
  cpe?: string;
  /** Algorithm (CycloneDX names: `SHA-256`, `SHA-1`, `MD5`, `SHA3-256`, `BLAKE2b-256`, ...) → lower-case hex. */
  hashes?: Record<string, string>;
}

export const MAX_NAME = 512;
export const MAX_VERSION = 256;
export const MAX_PURL = 2048;
export const MAX_CPE = 512;

/** A 4xx that says which part of which document is wrong. */
export function badDocument(code: string, message: string): DomainError {
  return invalid(code, message);
}

/**
 * A package URL in canonical form (type lower-cased, qualifiers sorted, percent-encoding as the
 * purl spec says), or an error naming where it was found.
 */
export function canonicalPurl(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_PURL) throw badDocument('sbom.bad-purl', `${where}: a purl is a string of 1..${MAX_PURL} characters`);
  try {
    return PackageURL.fromString(raw.trim()).toString();
  } catch (e) {
    throw badDocument('sbom.bad-purl', `${where}: '${clip(raw)}' is not a package URL (${(e as Error).message})`);
  }
}

/**
 * The identity of a purl for matching: type, namespace and name (no version, qualifiers or
 * subpath), e.g. `pkg:npm/%40scope/name`. Returns null for a string that is not a purl.
 */
export function purlKey(purl: string): { key: string; version: string | null } | null {
  try {
    const p = PackageURL.fromString(purl);
    const key = new PackageURL(p.type, p.namespace ?? undefined, p.name, undefined, undefined, undefined).toString();
    return { key, version: p.version ?? null };
  } catch {
    return null;
  }
}

const CPE23 = /^cpe:2\.3:[aho*-](?::(?:\\.|[^:\\])+){10}$/;
const CPE22 = /^cpe:\/[aho]?(?::[^:\s]*){0,6}$/i;

export function checkCpe(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length > MAX_CPE || !(CPE23.test(raw) || CPE22.test(raw))) {
    throw badDocument('sbom.bad-cpe', `${where}: '${clip(String(raw))}' is neither a CPE 2.3 formatted string nor a CPE 2.2 URI`);
  }
  return raw;
}

/** The fields of a CPE (2.3 formatted string or 2.2 URI) as 2.3 attributes: part, vendor, product, version, ... */
export function cpeFields(cpe: string): string[] {
  if (cpe.startsWith('cpe:2.3:')) return splitCpe23(cpe.slice(8)).map(unescapeCpe);
  const parts = cpe.slice(5).split(':').map((s) => decodeURIComponent(s.replace(/%(?![0-9a-f]{2})/gi, '%25')).toLowerCase());
  while (parts.length < 11) parts.push('*');
  return parts.map((p) => (p === '' ? '*' : p));
}

function splitCpe23(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[i + 1];
      i++;
    } else if (s[i] === ':') {
      out.push(cur);
      cur = '';
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}

function unescapeCpe(s: string): string {
  return s.replace(/\\(.)/g, '$1').toLowerCase();
}

/**
 * Whether a component's CPE matches an advisory's CPE: vendor, product and (unless the
 * advisory's is ANY) version, with `*` and `-` as CPE's ANY and NA.
 */
export function cpeMatches(advisory: string, component: string): boolean {
  const a = cpeFields(advisory);
  const c = cpeFields(component);
  for (let i = 0; i < 11; i++) {
    const av = a[i] ?? '*';
    const cv = c[i] ?? '*';
    if (av === '*' || cv === '*') continue;
    if (av !== cv) return false;
  }
  return true;
}

/** Hash algorithm names as CycloneDX spells them (SPDX writes SHA256, SHA1, ...). */
const HASH_NAMES: Record<string, string> = {
  MD5: 'MD5',
  SHA1: 'SHA-1',
  'SHA-1': 'SHA-1',
  SHA224: 'SHA-224',
  SHA256: 'SHA-256',
  'SHA-256': 'SHA-256',
  SHA384: 'SHA-384',
  'SHA-384': 'SHA-384',
  SHA512: 'SHA-512',
  'SHA-512': 'SHA-512',
  'SHA3-256': 'SHA3-256',
  'SHA3-384': 'SHA3-384',
  'SHA3-512': 'SHA3-512',
  'BLAKE2B-256': 'BLAKE2b-256',
  'BLAKE2B-384': 'BLAKE2b-384',
  'BLAKE2B-512': 'BLAKE2b-512',
  BLAKE3: 'BLAKE3',
  MD2: 'MD2',
  MD4: 'MD4',
  MD6: 'MD6',
  ADLER32: 'ADLER32',
};

export function normaliseHash(alg: unknown, value: unknown, where: string): [string, string] {
  const name = typeof alg === 'string' ? HASH_NAMES[alg.trim().toUpperCase()] : undefined;
  if (!name) throw badDocument('sbom.bad-hash', `${where}: unknown hash algorithm '${clip(String(alg))}'`);
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{8,256}$/.test(value.trim())) throw badDocument('sbom.bad-hash', `${where}: a ${name} hash is hexadecimal`);
  return [name, value.trim().toLowerCase()];
}

export function checkText(raw: unknown, max: number, where: string, field: string): string {
  if (typeof raw !== 'string') throw badDocument('sbom.bad-field', `${where}: ${field} must be a string`);
  const v = raw.trim();
  if (!v.length || v.length > max) throw badDocument('sbom.bad-field', `${where}: ${field} must be 1..${max} characters`);
  return v;
}

export function clip(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
