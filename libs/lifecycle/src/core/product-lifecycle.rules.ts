import { invalid } from '@fleetguard/common';

/** OASIS OpenEoX names of a product's lifecycle dates. */
export const LIFECYCLE_FIELDS = ['generalAvailability', 'endOfSales', 'endOfSecuritySupport', 'endOfLife'] as const;
export type LifecycleField = (typeof LIFECYCLE_FIELDS)[number];
export type ProductLifecycle = Record<LifecycleField, string | null>;

/**
 * Checks dates (ISO 8601 date or date-time; null clears one) and their order: general
 * availability ≤ end of sales ≤ end of life, end of security support ≤ end of life.
 */
export function checkLifecycle(input: Record<string, unknown>): ProductLifecycle {
  const unknown = Object.keys(input).filter((k) => !(LIFECYCLE_FIELDS as readonly string[]).includes(k));
  if (unknown.length) throw invalid('lifecycle.unknown-field', `unknown lifecycle field(s): ${unknown.join(', ')} (known: ${LIFECYCLE_FIELDS.join(', ')})`);
  const out = {} as ProductLifecycle;
  for (const f of LIFECYCLE_FIELDS) {
    const v = input[f];
    if (v === undefined || v === null) {
      out[f] = null;
      continue;
    }
    if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) || Number.isNaN(Date.parse(v))) {
      throw invalid('lifecycle.bad-date', `${f} must be an ISO 8601 date (2027-06-30) or date-time, or null`);
    }
    out[f] = new Date(v.length === 10 ? `${v}T00:00:00Z` : v).toISOString();
  }
  const order: Array<[LifecycleField, LifecycleField]> = [
    ['generalAvailability', 'endOfSales'],
    ['endOfSales', 'endOfLife'],
    ['generalAvailability', 'endOfSecuritySupport'],
    ['endOfSecuritySupport', 'endOfLife'],
  ];
  for (const [a, b] of order) {
    if (out[a] && out[b] && out[a]! > out[b]!) throw invalid('lifecycle.bad-order', `${a} (${out[a]}) comes after ${b} (${out[b]})`);
  }
  return out;
}

/** Whether a product is past its end of security support at `now`. */
export function isUnsupported(l: Pick<ProductLifecycle, 'endOfSecuritySupport'>, now: Date): boolean {
  return !!l.endOfSecuritySupport && new Date(l.endOfSecuritySupport).getTime() <= now.getTime();
}
