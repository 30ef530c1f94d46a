import { Command, Option } from 'commander';
import { FRS } from '@fleetguard/common';
import type { Query } from '../api-client';
import { unavailableError } from '../exit-codes';
import { columnsFor, formatCell, itemsOf, renderRecord, renderTable } from '../output';
import { CommandContext, positiveInt, withApiOptions } from './command-context';

const enc = encodeURIComponent;

/** RFC 5280 CRLReason names. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

/** --all stops here: a service handing out cursors forever is a bug, not a fleet. */
const MAX_PAGES = 10_000;

interface ListOptions {
  status?: string;
  product?: string;
  firmware?: string;
  belowTarget?: boolean;
  stale?: boolean;
  exposed?: boolean;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

interface DevicePage {
  items: Record<string, unknown>[];
  next?: string | null;
}

/** `fleetctl device ...` (operator, manufacturer). */
export function registerDeviceCommands(program: Command, ctx: CommandContext): void {
  const device = program.command('device').description('devices: list, detail and score, attest, revoke');

  const list = (cmd: Command) =>
    withApiOptions(
      cmd
        .option('--status <status>', 'e.g. affirming, warning, contraindicated, stale, revoked')
        .option('--product <productId>', 'only this product')
        .option('--firmware <version>', 'only this firmware version')
        .option('--below-target', 'only devices whose SL-C is below the product target')
        .option('--stale', 'only devices without a fresh attestation')
        .option('--exposed', 'only devices whose attested release has an unmitigated advisory')
        .option('--limit <n>', 'page size', positiveInt('--limit', 1000))
        .option('--cursor <cursor>', 'start from this page cursor (the previous page\'s "next")')
        .option('--all', 'follow the next cursor through every page'),
    ).action((opts: ListOptions, cmd: Command) => listDevices(ctx, opts, cmd));
  list(device.command('list').description('list devices (one page, or every page with --all)'));
  // The spelling of issue 19 (`fleetctl devices --exposed`): the same list as `device list`.
  list(program.command('devices').description('list devices, e.g. `fleetctl devices --exposed` (the same as `device list`)'));

  withApiOptions(device.command('show').description('a device with its SL-C vectors and gaps').argument('<id>')).action(
    async (id: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const [found, score] = await Promise.all([
        client.get<Record<string, unknown>>(`/devices/${enc(id)}`),
        client.get<Record<string, unknown>>(`/devices/${enc(id)}/score`),
      ]);
      ctx.output(cmd).result({ device: found, score }, () => `${renderRecord(found)}\n${renderScore(score)}`);
    },
  );

  withApiOptions(device.command('attest').description('challenge the device now').argument('<id>')).action(
    async (id: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const result = await client.post<unknown>(`/devices/${enc(id)}/attest`);
      ctx.output(cmd).result(result ?? { id, requested: true }, () => (result ? renderRecord(result) : `attestation requested for ${id}`));
    },
  );

  withApiOptions(
    device
      .command('revoke')
      .description("revoke the device's certificate (it is refused on every listener, MQTT included)")
      .argument('<id>')
      .addOption(new Option('--reason <reason>', 'RFC 5280 revocation reason').choices(REVOCATION_REASONS).makeOptionMandatory()),
  ).action(async (id: string, opts: { reason: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const result = await client.post<unknown>(`/devices/${enc(id)}/revoke`, { reason: opts.reason });
    ctx.output(cmd).result(result ?? { id, revoked: true, reason: opts.reason }, () => `revoked device ${id} (${opts.reason})`);
  });
}

function asPage(value: unknown): DevicePage {
  if (Array.isArray(value)) return { items: value as Record<string, unknown>[], next: null };
  const page = value as Partial<DevicePage> | null;
  if (!page || !Array.isArray(page.items)) throw unavailableError('the device list answer has no "items"', 'bad-response');
  return { items: page.items, next: typeof page.next === 'string' && page.next ? page.next : null };
}

/**
 * The score (GET /devices/:id/score) for people: its level vectors (evidenced, declared, target)
 * as a table of FR1..FR7; the gaps per FR (`gaps`, and `gapsDeclared` for the declared vector),
 * one line per FR with its unmet requirements; the lifecycle findings one line each; the long
 * lists (`items`, `history`) as counts (`--json` has them whole); anything else as a record.
 */
export function renderScore(score: Record<string, unknown> | null | undefined): string {
  if (!score || typeof score !== 'object') return formatCell(score);
  const vectors = Object.entries(score).filter(([k, v]) => !GAP_KEYS.includes(k) && isLevelVector(v)) as [string, Record<string, unknown>][];
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(score)) {
    if (GAP_KEYS.includes(k) || k === 'lifecycleFindings' || isLevelVector(v)) continue;
    rest[k] = k in COUNTED && Array.isArray(v) ? `${v.length} ${COUNTED[k]} (--json for all)` : v;
  }
  const parts: string[] = [];
  if (vectors.length) {
    parts.push(
      renderTable(
        [{ key: 'vector' }, ...FRS.map((fr) => ({ key: fr }))],
        vectors.map(([name, v]) => ({ vector: name, ...v })),
      ),
    );
  }
  for (const key of GAP_KEYS) {
    if (score[key] !== undefined && score[key] !== null) parts.push(renderGaps(key === 'gaps' ? 'gaps' : 'gaps (declared vector)', score[key]));
  }
  if (Array.isArray(score.lifecycleFindings)) parts.push(renderLifecycleFindings(score.lifecycleFindings));
  if (Object.keys(rest).length) parts.push(renderRecord(rest));
  return parts.join('\n');
}

/**
 * The 62443-4-1 lifecycle findings (exposure, end of support, missing SBOM), one line each:
 * `CR 7.8 (FR7) lifecycle.sbom-missing: <reason>`, with the severity and the advisory when given.
 */
function renderLifecycleFindings(findings: unknown[]): string {
  if (!findings.length) return 'lifecycle findings: none';
  const lines = findings.map((x) => {
    const f = x as { code?: unknown; fr?: unknown; requirement?: unknown; severity?: unknown; reason?: unknown; reference?: unknown } | null;
    if (!f || typeof f !== 'object' || typeof f.code !== 'string') return formatCell(x);
    const where = typeof f.requirement === 'string' ? `${f.requirement}${typeof f.fr === 'string' ? ` (${f.fr})` : ''} ` : '';
    const extra = [typeof f.severity === 'string' ? `severity ${f.severity}` : null, typeof f.reference === 'string' ? f.reference : null].filter(Boolean).join(', ');
    return `${where}${f.code}: ${typeof f.reason === 'string' ? f.reason : ''}${extra ? ` [${extra}]` : ''}`;
  });
  return `lifecycle findings:\n  ${lines.join('\n  ')}`;
}

const GAP_KEYS = ['gaps', 'gapsDeclared'];
/** Score fields summarised by their length in the table view. */
const COUNTED: Readonly<Record<string, string>> = { items: 'requirement(s)', history: 'entry(ies)' };

/** {FR1: 2, ..., FR7: 0}: an SL vector (not the gaps, whose values per FR are lists or objects). */
function isLevelVector(v: unknown): v is Record<string, number> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && FRS.some((fr) => typeof (v as Record<string, unknown>)[fr] === 'number');
}

/**
 * Gaps per FR as the service gives them, `{FR1: {target, achieved, items: [{id, status, ...}]}}`,
 * or plain lists of requirement ids `{FR1: ["CR 1.2"]}`; FRs without a gap are left out.
 */
function renderGaps(label: string, gaps: unknown): string {
  let lines: string[];
  if (Array.isArray(gaps)) lines = gaps.map((g) => formatCell(g));
  else if (typeof gaps === 'object' && gaps) {
    lines = [];
    for (const [fr, gap] of Object.entries(gaps as Record<string, unknown>)) {
      if (Array.isArray(gap)) {
        if (gap.length) lines.push(`${fr}: ${formatCell(gap)}`);
        continue;
      }
      const g = gap as { target?: unknown; achieved?: unknown; items?: unknown } | null;
      if (g && typeof g === 'object' && Array.isArray(g.items)) {
        if (!g.items.length) continue;
        const ids = g.items.map((it: unknown) => {
          const item = it as { id?: unknown; status?: unknown } | null;
          if (!item || typeof item !== 'object' || typeof item.id !== 'string') return formatCell(it);
          return typeof item.status === 'string' ? `${item.id} (${item.status})` : item.id;
        });
        const levels = typeof g.target === 'number' ? ` (target ${g.target}${typeof g.achieved === 'number' ? `, achieved ${g.achieved}` : ''})` : '';
        lines.push(`${fr}${levels}: ${ids.join(', ')}`);
        continue;
      }
      lines.push(`${fr}: ${formatCell(gap)}`);
    }
  } else {
    lines = [formatCell(gaps)];
  }
  return lines.length ? `${label}:\n  ${lines.join('\n  ')}` : `${label}: none`;
}

async function listDevices(ctx: CommandContext, opts: ListOptions, cmd: Command): Promise<void> {
  const client = await ctx.client(cmd);
  const query: Query = {
    status: opts.status,
    productId: opts.product,
    firmwareVersion: opts.firmware,
    belowTarget: opts.belowTarget ? 'true' : undefined,
    stale: opts.stale ? 'true' : undefined,
    exposed: opts.exposed ? 'true' : undefined,
    limit: opts.limit,
    cursor: opts.cursor,
  };
  const out = ctx.output(cmd);
  const first = await client.get<unknown>('/devices', query);
  const page = asPage(first);
  let result: unknown = first;
  if (opts.all && page.next) {
    const items = [...page.items];
    const seen = new Set<string>();
    let next: string | null | undefined = page.next;
    while (next) {
      if (seen.has(next) || seen.size >= MAX_PAGES) throw unavailableError(`the device list cursor ${next} repeats; stopped`, 'bad-response');
      seen.add(next);
      const more = asPage(await client.get<unknown>('/devices', { ...query, cursor: next }));
      items.push(...more.items);
      next = more.next;
    }
    result = { items, next: null };
  }
  const rows = itemsOf(result);
  out.result(result, () =>
    renderTable(
      columnsFor(rows, ['id', 'productId', 'status', 'firmware.version', 'attestation.status', 'attestation.at', 'levels.belowTarget', 'lastSeenAt']),
      rows,
    ),
  );
  const next = (result as DevicePage).next;
  if (!out.json && next) out.note(`more devices: --cursor ${next} (or --all)`);
}
