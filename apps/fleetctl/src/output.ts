import Table from 'cli-table3';
import type { CliIo } from './cli-io';

export interface Column<Row = Record<string, unknown>> {
  readonly key: string;
  readonly header?: string;
  /** Cell text; by default `formatCell(row[key])`. */
  readonly format?: (value: unknown, row: Row) => string;
}

/** No colours ever: output is read by people and by `grep` alike, and is the same in tests. */
const PLAIN_STYLE = { head: [] as string[], border: [] as string[] };

/**
 * Box-drawn tables only for a person at a terminal: stdout a TTY, `NO_COLOR` unset
 * (https://no-color.org: no decoration) and `TERM` not `dumb`. Otherwise plain columns separated
 * by two spaces, which pipes, `grep`, `awk` and logs read as they are.
 */
let boxes = false;

export function tablesFor(io: CliIo): 'boxes' | 'plain' {
  const env = io.env;
  return io.stdout.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb' ? 'boxes' : 'plain';
}

function plainTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/**
 * Where results go. `--json`: the raw JSON of the result on stdout, nothing else there (scripts
 * parse it). Otherwise tables and plain lines. Notes and warnings always go to stderr.
 */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {
    boxes = tablesFor(io) === 'boxes';
  }

  /** The command's result: raw JSON, or what `render` makes of it for people. */
  result(data: unknown, render: () => string): void {
    if (this.json) this.io.stdout.write(JSON.stringify(data ?? null, null, 2) + '\n');
    else this.line(render());
  }

  /** A line on stdout (text mode only: callers use `result` for data). */
  line(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** Information for the person at the terminal, on stderr so that stdout stays data. */
  note(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  warn(text: string): void {
    this.note(`fleetctl: warning: ${text}`);
  }
}

/** A table with one row per item; `(none)` when empty. Long digests are shortened (full in --json). */
export function renderTable<Row extends object>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  if (rows.length === 0) return '(none)';
  const head = columns.map((c) => c.header ?? c.key);
  const body = rows.map((row) => {
    const record = row as Record<string, unknown>;
    return columns.map((c) => (c.format ? c.format(valueAt(record, c.key), row) : shorten(formatCell(valueAt(record, c.key)))));
  });
  if (!boxes) return plainTable([head, ...body]);
  const table = new Table({ head, style: PLAIN_STYLE });
  for (const cells of body) table.push(cells);
  return table.toString();
}

/** A two-column table of an object's fields, nested objects flattened as `a.b`. */
export function renderRecord(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return formatCell(value);
  const entries = flatten(value as Record<string, unknown>);
  if (!boxes) return entries.length ? plainTable(entries.map(([k, v]) => [k, String(v)])) : '';
  const table = new Table({ style: PLAIN_STYLE });
  for (const [k, v] of entries) table.push({ [k]: v });
  return table.toString();
}

/**
 * Columns for rows of a shape the service may extend: the preferred keys (dotted paths reach into
 * nested objects: `firmware.version`) that some row has, else every top-level key.
 */
export function columnsFor(rows: readonly object[], preferred: readonly string[]): Column[] {
  const chosen = preferred.filter((k) => rows.some((r) => valueAt(r as Record<string, unknown>, k) !== undefined));
  const all = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return (chosen.length ? chosen : all).map((key) => ({ key }));
}

/** `row.a.b` for the key `a.b` (a key that exists as such wins). */
export function valueAt(row: Record<string, unknown>, key: string): unknown {
  if (key in row) return row[key];
  let value: unknown = row;
  for (const part of key.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) return value.map(formatCell).join(', ');
  return JSON.stringify(value);
}

/** `sha256:ae2c8c0982305d06…` for table cells; hex ids longer than 24 characters likewise. */
export function shorten(text: string): string {
  const m = /^((?:sha256:)?)([0-9a-f]{25,})$/.exec(text);
  return m ? `${m[1]}${m[2].slice(0, 16)}…` : text;
}

function flatten(obj: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      out.push(...flatten(v as Record<string, unknown>, key));
    } else {
      out.push([key, formatCell(v)]);
    }
  }
  return out;
}

/** Items of a list answer: a bare array, or `{items: [...]}` (paged). */
export function itemsOf(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value as Record<string, unknown>[];
  const items = (value as { items?: unknown })?.items;
  return Array.isArray(items) ? (items as Record<string, unknown>[]) : [];
}
