/**
 * Assessment exports: one row per requirement and device (SPEC), as CSV (csv-stringify, formula
 * cells escaped), and a self-contained, printable HTML report. JSON is the API's own view.
 */
import { stringify, type Stringifier } from 'csv-stringify';
import { FR_KEYS } from '@fleetguard/hardening-core';
import type { ItemTable } from '@fleetguard/hardening-core';
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
 * A streaming CSV writer of assessment rows (header first). Write `csvRecord(row)` arrays: plain
 * arrays skip csv-stringify's per-cell key lookups (several times faster than objects).
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

/**
 * A device's CSV rows as one string, the same bytes as csvRecord + csv-stringify would write,
 * built by concatenation: the per-item cells (requirement, FR, SL) are escaped once per scorer,
 * the device's and evidence cells once per device. For 100,000-device zones (8 million rows).
 */
export function deviceCsvLines(d: ZoneDevice, table: ItemTable, cover: ReadonlyArray<string | null>): string {
  const plan = itemPlan(d.scorer);
  let cells = itemCells.get(d.scorer);
  if (!cells) {
    cells = plan.ids.map((id, i) => `${csvCell(id)},${FR_KEYS[plan.fr[i]]},${plan.sl[i]},`);
    itemCells.set(d.scorer, cells);
  }
  const head = csvCell(d.deviceId) + ',';
  const e = d.evidence;
  const tail = `,${csvCell(e.reportId ?? '')},${csvCell(e.attestationResultId ?? '')},${csvCell(e.firmwareRelease ?? '')},${csvCell(d.score.rulesVersion)},${csvCell(d.score.catalogVersion)},`;
  // Lifecycle finding codes on a requirement: few devices have any, so most rows end empty.
  const findings = d.lifecycleFindings?.length ? lifecycleCodesByRequirement(d) : null;
  const st = table.statuses;
  const gr = table.grades;
  let out = '';
  for (let i = 0; i < st.length; i++) {
    const v = st[i];
    const cm = v === 'evidenced' || v === 'not-applicable' ? null : cover[i];
    const lf = findings?.get(plan.ids[i]);
    out += `${head}${cells[i]}${v === 'not-applicable' ? 'false' : 'true'},${v},${gr[i] ?? ''},${cm === null ? '' : csvCell(cm)}${tail}${lf ? csvCell(lf) : ''}\n`;
  }
  return out;
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
