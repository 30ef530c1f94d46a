import { Command, Option } from 'commander';
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

const FRS = ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'];
/** --all stops here: a service handing out cursors forever is a bug, not a fleet. */
const MAX_PAGES = 10_000;

interface ListOptions {
  status?: string;
  product?: string;
  firmware?: string;
  belowTarget?: boolean;
  stale?: boolean;
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

  withApiOptions(
    device
      .command('list')
      .description('list devices (one page, or every page with --all)')
      .option('--status <status>', 'e.g. affirming, warning, contraindicated, stale, revoked')
      .option('--product <productId>', 'only this product')
      .option('--firmware <version>', 'only this firmware version')
      .option('--below-target', 'only devices whose SL-C is below the product target')
      .option('--stale', 'only devices without a fresh attestation')
      .option('--limit <n>', 'page size', positiveInt('--limit', 1000))
      .option('--cursor <cursor>', 'start from this page cursor (the previous page\'s "next")')
      .option('--all', 'follow the next cursor through every page'),
  ).action(async (opts: ListOptions, cmd: Command) => {
    const client = await ctx.client(cmd);
    const query: Query = {
      status: opts.status,
      productId: opts.product,
      firmwareVersion: opts.firmware,
      belowTarget: opts.belowTarget ? 'true' : undefined,
      stale: opts.stale ? 'true' : undefined,
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
  });

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
 * The score as a table of FR1..FR7 when it has level vectors (evidenced, declared, target...),
 * then the gaps per FR; anything else as a record.
 */
export function renderScore(score: Record<string, unknown> | null | undefined): string {
  if (!score || typeof score !== 'object') return formatCell(score);
  const isVector = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v) && FRS.some((fr) => fr in (v as object));
  const vectors = Object.entries(score).filter(([, v]) => isVector(v)) as [string, Record<string, unknown>][];
  const rest = Object.fromEntries(Object.entries(score).filter(([k, v]) => !isVector(v) && k !== 'gaps'));
  const parts: string[] = [];
  if (vectors.length) {
    parts.push(
      renderTable(
        [{ key: 'vector' }, ...FRS.map((fr) => ({ key: fr }))],
        vectors.map(([name, v]) => ({ vector: name, ...v })),
      ),
    );
  }
  const gaps = score.gaps;
  if (gaps && typeof gaps === 'object') {
    const lines = Array.isArray(gaps)
      ? gaps.map((g) => formatCell(g))
      : Object.entries(gaps as Record<string, unknown>)
          .filter(([, ids]) => !Array.isArray(ids) || ids.length > 0)
          .map(([fr, ids]) => `${fr}: ${formatCell(ids)}`);
    parts.push(lines.length ? `gaps:\n  ${lines.join('\n  ')}` : 'gaps: none');
  }
  if (Object.keys(rest).length) parts.push(renderRecord(rest));
  return parts.join('\n');
}
