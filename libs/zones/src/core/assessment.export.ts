/**
 * Assessment exports: one row per requirement and device (SPEC), as CSV (formula cells escaped,
 * the bytes csv-stringify writes with `escape_formulas`), and a self-contained, printable HTML
 * report. JSON is the API's own view.
 */
import { stringify, type Stringifier } from 'csv-stringify';
import { FR_KEYS } from '@fleetguard/hardening';
import type { Grade, ItemStatus, ItemTable } from '@fleetguard/hardening';
import { itemPlan, lifecycleCodesByRequirement, type AssessmentRow, type ZoneAssessment, type ZoneDevice } from './zone.assessment';

export const ASSESSMENT_FORMATS = ['json', 'csv', 'html', 'oscal'] as const;
export type AssessmentFormat = (typeof ASSESSMENT_FORMATS)[number];

export const CSV_COLUMNS: ReadonlyArray<{ key: keyof AssessmentRow; header: string }> = [
  { key: 'deviceId', header: 'device_id' },
  { key: 'requirement', header: 'requirement' },
  { key: 'fr', header: 'fr' },
  { key: 'sl', header: 'sl' },
  { key: 'applicable', header: 'applicable' },
  { key: 'verdict', header: 'verdict' },
  { key: 'grade', header: 'grade' },
  { key: 'countermeasure', header: 'countermeasure_id' },
  { key: 'reportId', header: 'report_id' },
  { key: 'attestationResultId', header: 'attestation_result_id' },
  { key: 'firmwareRelease', header: 'firmware_release' },
  { key: 'rulesVersion', header: 'rule_set_version' },
  { key: 'catalogVersion', header: 'catalog_version' },
  { key: 'lifecycleFindings', header: 'lifecycle_findings' },
];

/**
 * csv-stringify over assessment rows (header first, formula cells escaped): the tests' reference
 * for AssessmentCsvWriter. Write `csvRecord(row)` arrays (faster than objects' key lookups).
 */
export function assessmentCsv(): Stringifier {
  return stringify({
    header: true,
    columns: CSV_COLUMNS.map((c) => c.header),
    // A cell starting with = + - @ (or tab / CR) is prefixed so spreadsheets do not run it.
    escape_formulas: true,
  });
}

/** One row as CSV cells, in CSV_COLUMNS order; null is an empty cell, booleans true/false. */
export function csvRecord(r: AssessmentRow): string[] {
  return [
    r.deviceId,
    r.requirement,
    r.fr,
    String(r.sl),
    r.applicable ? 'true' : 'false',
    r.verdict,
    r.grade ?? '',
    r.countermeasure ?? '',
    r.reportId ?? '',
    r.attestationResultId ?? '',
    r.firmwareRelease ?? '',
    r.rulesVersion,
    r.catalogVersion,
    r.lifecycleFindings ?? '',
  ];
}

const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell as csv-stringify writes it with `escape_formulas` (the tests compare the two):
 * a cell starting with = + - @ tab CR (or their full-width forms) gets a leading `'`; a cell
 * with a quote, comma or line break is quoted, quotes doubled.
 */
export function csvCell(v: string): string {
  if (v === '') return v;
  if (FORMULA_START.has(v[0])) v = `'${v}`;
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The header line of the assessment CSV. */
export const CSV_HEADER = CSV_COLUMNS.map((c) => c.header).join(',') + '\n';

const itemCells = new WeakMap<object, string[]>();

/** Per scorer item: `requirement,fr,sl,` escaped once per scorer. */
function itemCellsOf(d: ZoneDevice): string[] {
  let cells = itemCells.get(d.scorer);
  if (!cells) {
    const plan = itemPlan(d.scorer);
    cells = plan.ids.map((id, i) => `${csvCell(id)},${FR_KEYS[plan.fr[i]]},${plan.sl[i]},`);
    itemCells.set(d.scorer, cells);
  }
  return cells;
}

/** The device's cells before its items (`device_id,`) and after them up to the lifecycle cell. */
function deviceCells(d: ZoneDevice): { head: string; tail: string } {
  const e = d.evidence;
  return {
    head: csvCell(d.deviceId) + ',',
    tail: `,${csvCell(e.reportId ?? '')},${csvCell(e.attestationResultId ?? '')},${csvCell(e.firmwareRelease ?? '')},${csvCell(d.score.rulesVersion)},${csvCell(d.score.catalogVersion)},`,
  };
}

/** An item's cells from `applicable` to `countermeasure_id`, for one status and grade. */
function verdictCells(v: ItemStatus, grade: Grade | null, cover: string | null): string {
  const cm = v === 'evidenced' || v === 'not-applicable' ? null : cover;
  return `${v === 'not-applicable' ? 'false' : 'true'},${v},${grade ?? ''},${cm === null ? '' : csvCell(cm)}`;
}

/**
 * A device's CSV rows as one string, the same bytes as csvRecord + csv-stringify would write
 * (a fuzz test compares them). The reference for AssessmentCsvWriter, and what tests read.
 */
export function deviceCsvLines(d: ZoneDevice, table: ItemTable, cover: ReadonlyArray<string | null>): string {
  const plan = itemPlan(d.scorer);
  const cells = itemCellsOf(d);
  const { head, tail } = deviceCells(d);
  const findings = d.lifecycleFindings?.length ? lifecycleCodesByRequirement(d) : null;
  let out = '';
  for (let i = 0; i < table.statuses.length; i++) {
    const lf = findings?.get(plan.ids[i]);
    out += `${head}${cells[i]}${verdictCells(table.statuses[i], table.grades[i], cover[i])}${tail}${lf ? csvCell(lf) : ''}\n`;
  }
  return out;
}

const STATUS_CODE: Readonly<Record<ItemStatus, number>> = { evidenced: 0, declared: 1, contradicted: 2, missing: 3, 'not-applicable': 4 };
const GRADE_CODE: Readonly<Record<Grade, number>> = { attested: 1, observed: 2, reported: 3, declared: 4 };
const CODES = 5 * 5;
const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);
const HEADER_BYTES = Buffer.from(CSV_HEADER);

/** A scorer's row middles (`requirement` .. `countermeasure_id`) as UTF-8, by item and status/grade code, made on first use. */
interface MiddleTable {
  readonly cover: ReadonlyArray<string | null>;
  readonly bytes: Array<Buffer | undefined>;
  /** The longest a middle of this scorer can be, in bytes (for the space a device needs). */
  readonly maxBytes: number;
}

/**
 * The assessment CSV (header first) written as UTF-8 bytes straight into chunk buffers, for zone
 * exports of 100,000 devices (8 million rows, about 900 MiB). The bytes are deviceCsvLines' (so
 * csv-stringify's with `escape_formulas`: a test compares all three), built differently: every
 * row is three copies of bytes encoded once (the device's head, its item's middle for that status
 * and grade, the device's tail with the line end). Concatenating strings made some eight pieces
 * per row that V8 kept as a rope, then flattened and encoded again when the chunk was written.
 *
 * Measured over the same 20,000 scored devices (1.66 million rows, 189 MiB, one process, loaded
 * machine, CPU time): this writer 0.31-0.34 s, the string concatenation 0.92 s, csv-stringify
 * with `escape_formulas` fed csvRecord arrays (rowsOf) 5.1-6.0 s, against 0.36-0.47 s for
 * tabling the devices alone. csv-stringify costs some fifteen times the tabling, so it is the
 * tests' reference, not the writer.
 *
 * Use: `device()` for each device, `take()` the filled chunk when `size >= chunkBytes`, and once
 * more at the end. A chunk grows only when one device's rows do not fit what is left of it.
 */
export class AssessmentCsvWriter {
  #chunk: Buffer = EMPTY;
  #off = 0;
  readonly #middles = new Map<object, MiddleTable>();

  constructor(readonly chunkBytes = 1 << 20) {
    this.#chunk = EMPTY;
    this.#reserve(HEADER_BYTES.length);
    this.#chunk.set(HEADER_BYTES, 0);
    this.#off = HEADER_BYTES.length;
  }

  /** Bytes waiting in the current chunk. */
  get size(): number {
    return this.#off;
  }

  /** The filled part of the current chunk (a new chunk starts); empty when nothing is waiting. */
  take(): Buffer {
    const out = this.#chunk.subarray(0, this.#off);
    // The next chunk is allocated by the next device that needs it (none after the last take).
    this.#chunk = EMPTY;
    this.#off = 0;
    return out;
  }

  /** Appends one device's rows (`cover`: ZoneAssessor.coverOf its scorer). */
  device(d: ZoneDevice, table: ItemTable, cover: ReadonlyArray<string | null>): void {
    const plan = itemPlan(d.scorer);
    const m = this.#middlesOf(d, cover);
    const cells = deviceCells(d);
    const head = Buffer.from(cells.head);
    const tail = Buffer.from(cells.tail + '\n');
    const findings = d.lifecycleFindings?.length ? lifecycleCodesByRequirement(d) : null;
    const st = table.statuses;
    const gr = table.grades;
    const n = st.length;
    let lfBytes = 0;
    if (findings) for (const lf of findings.values()) lfBytes += Buffer.byteLength(csvCell(lf));
    this.#reserve(n * (head.length + m.maxBytes + tail.length) + lfBytes);
    const out = this.#chunk;
    let off = this.#off;
    for (let i = 0; i < n; i++) {
      const g = gr[i];
      const code = i * CODES + STATUS_CODE[st[i]] * 5 + (g === null ? 0 : GRADE_CODE[g]);
      const mid = m.bytes[code] ?? (m.bytes[code] = Buffer.from(itemCellsOf(d)[i] + verdictCells(st[i], g, m.cover[i])));
      out.set(head, off);
      off += head.length;
      out.set(mid, off);
      off += mid.length;
      const lf = findings?.get(plan.ids[i]);
      if (lf) {
        // The tail without its line end, the lifecycle cell, then the line end.
        out.set(tail.subarray(0, tail.length - 1), off);
        off += tail.length - 1;
        off += out.write(csvCell(lf), off);
        out.set(NEWLINE, off);
        off += 1;
      } else {
        out.set(tail, off);
        off += tail.length;
      }
    }
    this.#off = off;
  }

  #middlesOf(d: ZoneDevice, cover: ReadonlyArray<string | null>): MiddleTable {
    let m = this.#middles.get(d.scorer);
    if (!m || m.cover !== cover) {
      // The longest middle: the item's cells, `false` or `true`, the longest status and grade, the countermeasure id.
      const cells = itemCellsOf(d);
      let maxBytes = 0;
      cells.forEach((c, i) => {
        const cm = cover[i] === null ? 0 : Buffer.byteLength(csvCell(cover[i]!));
        maxBytes = Math.max(maxBytes, Buffer.byteLength(c) + 'false,not-applicable,attested,'.length + cm);
      });
      m = { cover, bytes: new Array<Buffer | undefined>(cells.length * CODES), maxBytes };
      this.#middles.set(d.scorer, m);
    }
    return m;
  }

  /** Makes room for `bytes` more in the current chunk (copying what is there into a larger one). */
  #reserve(bytes: number): void {
    if (this.#off + bytes <= this.#chunk.length) return;
    // A chunk is taken at chunkBytes: the slack above it usually holds the device that crosses it.
    const bigger = Buffer.allocUnsafe(Math.max(this.chunkBytes + (this.chunkBytes >> 3), this.#chunk.length * 2, this.#off + bytes));
    this.#chunk.copy(bigger, 0, 0, this.#off);
    this.#chunk = bigger;
  }
}

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface HtmlReportInput {
  title: string;
  subject: string;
  generatedAt: string;
  assessment: ZoneAssessment;
  rows: readonly AssessmentRow[];
  /** Rows beyond this are summarised, not listed (the CSV has them all). */
  maxRows?: number;
}

/** A self-contained HTML report (inline CSS, no scripts, no external resources) that prints to PDF. */
export function assessmentHtml(input: HtmlReportInput): string {
  const a = input.assessment;
  const max = input.maxRows ?? 5000;
  const lvl = (v: number | null) => (v === null ? '–' : String(v));
  const frRows = FR_KEYS.map((k) => {
    const f = a.perFr[k];
    const below = f.slA === null || f.slA < f.slT;
    return `<tr class="${below ? 'below' : 'ok'}"><th>${k}</th><td>${lvl(f.slA)}</td><td>${lvl(f.slAWithoutCountermeasures)}</td><td>${f.slT}</td>
      <td>${f.heldDownBy.map(esc).join(', ') || '–'}</td><td>${f.gaps.map((g) => `${esc(g.requirement)} (SL ${g.sl}; ${g.devices.length} device${g.devices.length === 1 ? '' : 's'})`).join('<br>') || '–'}</td></tr>`;
  }).join('\n');
  const cms = a.countermeasures.length
    ? a.countermeasures
        .map((c) => `<tr><td>${esc(c.requirement)}</td><td>${esc(c.description)}</td><td>${esc(c.recordedAt)}</td><td>${c.raised.map((r) => `${r.fr}: ${r.devices.length} device(s)`).join(', ') || 'no level raised'}</td></tr>`)
        .join('\n')
    : '<tr><td colspan="4">No compensating countermeasures recorded.</td></tr>';
  const shown = input.rows.slice(0, max);
  const detail = shown
    .map(
      (r) => `<tr class="v-${esc(r.verdict)}"><td>${esc(r.deviceId)}</td><td>${esc(r.requirement)}</td><td>${r.fr}</td><td>${r.sl}</td><td>${r.applicable ? 'yes' : 'no'}</td><td>${esc(r.verdict)}</td><td>${esc(r.grade ?? '')}</td><td>${esc(r.countermeasure ?? '')}</td><td class="ref">${esc(r.reportId ?? '')}<br>${esc(r.attestationResultId ?? '')}</td><td>${esc(r.firmwareRelease ?? '')}</td><td>${esc(r.rulesVersion)}</td><td>${esc(r.lifecycleFindings ?? '')}</td></tr>`,
    )
    .join('\n');
  const more = input.rows.length > shown.length ? `<p class="note">${input.rows.length - shown.length} more rows are in the CSV export.</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
  h1 { font-size: 20px; margin: 0 0 .2em } h2 { font-size: 15px; margin-top: 1.6em; border-bottom: 1px solid #999 }
  table { border-collapse: collapse; width: 100%; margin-top: .5em } th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top }
  thead th { background: #eee } tr.below th { color: #a00 } tr.ok th { color: #060 }
  tr.v-contradicted td { background: #fde8e8 } tr.v-missing td { background: #fff6dd } .ref { font-family: monospace; font-size: 11px }
  .meta { color: #444 } .note { color: #444; font-style: italic }
  @media print { body { margin: 1cm } h2 { break-after: avoid } tr { break-inside: avoid } }
</style></head>
<body>
<h1>${esc(input.title)}</h1>
<p class="meta">${esc(input.subject)} · generated ${esc(input.generatedAt)} · ${a.devices} device(s) · levels are SL-C as configured, from graded evidence (attested, observed, reported, declared)</p>
<h2>Achieved (SL-A) against target (SL-T) per foundational requirement</h2>
<table><thead><tr><th>FR</th><th>SL-A</th><th>SL-A without countermeasures</th><th>SL-T</th><th>held down by</th><th>gaps up to SL-T</th></tr></thead>
<tbody>
${frRows}
</tbody></table>
<h2>Compensating countermeasures (listed apart from SL-C)</h2>
<table><thead><tr><th>requirement</th><th>description</th><th>recorded</th><th>raised</th></tr></thead><tbody>
${cms}
</tbody></table>
<h2>Requirements per device</h2>
<table><thead><tr><th>device</th><th>requirement</th><th>FR</th><th>SL</th><th>applicable</th><th>verdict</th><th>grade</th><th>countermeasure</th><th>report / attestation result</th><th>release</th><th>rule set</th><th>lifecycle findings</th></tr></thead>
<tbody>
${detail}
</tbody></table>
${more}
</body></html>
`;
}
