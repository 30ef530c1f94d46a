import { FRS, type IntegrityStatus } from '@fleetguard/common';
import type { LevelVector } from './product.rules';

/** One device in the fleet report (JSON as is; CSV flattens the vectors into FR1..FR7 columns). */
export interface FleetReportRow {
  id: string;
  productId: string;
  productName: string | null;
  operatorId: string | null;
  status: string;
  integrity: IntegrityStatus;
  firmwareVersion: string | null;
  securityCounter: number | null;
  lastAttestationStatus: string | null;
  lastAttestationAt: string | null;
  affirmedAt: string | null;
  evidenced: Partial<LevelVector> | null;
  declared: Partial<LevelVector> | null;
  belowTarget: boolean | null;
  lastSeenAt: string | null;
  enrolledAt: string | null;
}

const SCALAR_COLUMNS = [
  'id', 'productId', 'productName', 'operatorId', 'status', 'integrity', 'firmwareVersion', 'securityCounter',
  'lastAttestationStatus', 'lastAttestationAt', 'affirmedAt',
] as const;

/** The CSV header: scalars, then `evidenced_FR1..7`, `declared_FR1..7`, then the rest. */
export const CSV_COLUMNS: readonly string[] = [
  ...SCALAR_COLUMNS,
  ...FRS.map((fr) => `evidenced_${fr}`),
  ...FRS.map((fr) => `declared_${fr}`),
  'belowTarget', 'lastSeenAt', 'enrolledAt',
];

/** Text a spreadsheet would run as a formula when it opens the file. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. Text
 * that a spreadsheet would take for a formula gets a leading apostrophe (CSV injection); numbers
 * and booleans are written as they are.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return values.map(csvField).join(',') + '\r\n';
}

export function csvHeader(): string {
  return csvLine(CSV_COLUMNS);
}

export function csvRow(r: FleetReportRow): string {
  const level = (v: Partial<LevelVector> | null, fr: (typeof FRS)[number]) => (v && typeof v[fr] === 'number' ? v[fr] : null);
  return csvLine([
    ...SCALAR_COLUMNS.map((c) => r[c]),
    ...FRS.map((fr) => level(r.evidenced, fr)),
    ...FRS.map((fr) => level(r.declared, fr)),
    r.belowTarget, r.lastSeenAt, r.enrolledAt,
  ]);
}
