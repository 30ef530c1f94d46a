/**
 * Caller-controlled text is made storable before it reaches a record: strings become well-formed
 * UTF-16 (a lone surrogate becomes U+FFFD; PostgreSQL refuses it in jsonb, and in text it would
 * be stored as something other than what was hashed), NUL (which PostgreSQL text cannot hold)
 * becomes U+FFFD, long strings are cut, and nesting is bounded. Applied to keys as well as values.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export const MAX_STORED_STRING = 2000;
const MAX_DEPTH = 16;
const MAX_ENTRIES = 200;

export function storableText(s: string, max = MAX_STORED_STRING): string {
  let out = s.replace(LONE_SURROGATE, '\ufffd').replace(/\u0000/g, '\ufffd');
  if (out.length > max) {
    out = out.slice(0, max);
    // do not leave half of a surrogate pair at the cut
    if (/[\ud800-\udbff]$/.test(out)) out = out.slice(0, -1);
    out += '…';
  }
  return out;
}

/** A JSON value whose every string (keys included) is storable, with bounded depth and breadth. */
export function storableJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value !== 'object') return null;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((v) => storableJson(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, MAX_ENTRIES)) {
    if (v === undefined) continue;
    out[storableText(k, 200)] = storableJson(v, depth + 1);
  }
  return out;
}

/** True when a string holds a lone surrogate (not well-formed UTF-16). */
export function hasLoneSurrogate(s: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  const r = LONE_SURROGATE.test(s);
  LONE_SURROGATE.lastIndex = 0;
  return r;
}
