import { Command, InvalidArgumentError, Option } from 'commander';
import { FRS } from '@fleetguard/common';
import { formatBytes } from '../progress';
import { columnsFor, renderTable } from '../output';
import { usageError } from '../exit-codes';
import { CommandContext, withApiOptions } from './command-context';
import { downloadTo } from './fleet.command';
import { parseTarget } from './product.command';

const FORMATS = ['json', 'csv', 'html', 'oscal'] as const;
const enc = encodeURIComponent;

interface Zone {
  id: string;
  name: string;
  targetLevels: Record<string, number>;
  devices: number;
}
interface FrAssessment {
  slA: number | null;
  slAWithoutCountermeasures: number | null;
  slT: number;
  heldDownBy: string[];
  gaps: Array<{ requirement: string; sl: number; devices: string[] }>;
}
interface ZoneDetail extends Zone {
  countermeasures: Array<{ id: string; requirement: string; description: string }>;
  assessment: { devices: number; perFr: Record<string, FrAssessment>; belowTarget: string[] };
}

/** `a,b c`: device ids, commas or spaces. */
function ids(raw: string[]): string[] {
  const out = [...new Set(raw.flatMap((r) => r.split(',')).map((s) => s.trim()).filter(Boolean))];
  if (!out.length) throw new InvalidArgumentError('give at least one device id');
  return out;
}

/** `FR1=3` over the zone's current levels: FRs not named keep theirs. */
function mergeTarget(current: Record<string, number>, raw: string): Record<string, number> {
  const named = new Set(raw.split(',').map((p) => /^\s*(FR[1-7])/i.exec(p)?.[1].toUpperCase()).filter(Boolean) as string[]);
  const given = parseTarget(raw);
  return Object.fromEntries(FRS.map((k) => [k, named.has(k) ? given[k] : (current[k] ?? 0)]));
}

const lvl = (v: number | null) => (v === null ? '-' : String(v));

/** SL-T vs SL-A per FR, with the devices holding each FR down and the gaps. */
export function renderZone(z: ZoneDetail): string {
  const rows = FRS.map((k) => {
    const f = z.assessment.perFr[k];
    return {
      fr: k,
      slT: String(f.slT),
      slA: lvl(f.slA),
      withoutCm: lvl(f.slAWithoutCountermeasures),
      status: f.slA === null || f.slA < f.slT ? 'BELOW TARGET' : 'ok',
      heldDownBy: f.heldDownBy.slice(0, 5).join(', ') + (f.heldDownBy.length > 5 ? ', ...' : ''),
      gaps: f.gaps.map((g) => `${g.requirement} (${g.devices.length})`).join(', '),
    };
  });
  const head = `zone ${z.name} (${z.id}): ${z.assessment.devices} device(s), below target: ${z.assessment.belowTarget.join(', ') || 'none'}`;
  const table = renderTable(
    [
      { key: 'fr', header: 'FR' },
      { key: 'slT', header: 'SL-T' },
      { key: 'slA', header: 'SL-A' },
      { key: 'withoutCm', header: 'SL-A w/o countermeasures' },
      { key: 'status', header: 'status' },
      { key: 'heldDownBy', header: 'held down by', format: (v) => String(v ?? '') },
      { key: 'gaps', header: 'gaps (devices)', format: (v) => String(v ?? '') },
    ],
    rows,
  );
  const cms = z.countermeasures.length ? `\ncompensating countermeasures:\n${z.countermeasures.map((c) => `  ${c.requirement}: ${c.description}`).join('\n')}` : '';
  return `${head}\n${table}${cms}`;
}

/** `fleetctl zone ...` and `fleetctl assessment export` (operator, the asset owner; auditor reads). */
export function registerZoneCommands(program: Command, ctx: CommandContext): void {
  const zone = program.command('zone').description('zones (IEC 62443-3-2): devices, target SL-T per FR, achieved SL-A, countermeasures');

  withApiOptions(
    zone
      .command('create')
      .description('create a zone with its target levels')
      .requiredOption('--name <name>', 'zone name (unique in the organization)')
      .requiredOption('--target <levels>', 'SL-T per FR: FR1=2,FR2=2,... (FRs not given are 0)', parseTarget),
  ).action(async (opts: { name: string; target: Record<string, number> }, cmd: Command) => {
    const z = await (await ctx.client(cmd)).post<Zone>('/zones', { name: opts.name, targetLevels: opts.target });
    ctx.output(cmd).result(z, () => `created zone ${z.name} (${z.id})`);
  });

  withApiOptions(zone.command('list').description("the organization's zones")).action(async (_opts: unknown, cmd: Command) => {
    const zones = await (await ctx.client(cmd)).get<Zone[]>('/zones');
    ctx.output(cmd).result(zones, () => renderTable(columnsFor(zones, ['id', 'name', 'devices', 'targetLevels']), zones as unknown as Array<Record<string, unknown>>));
  });

  withApiOptions(zone.command('show').description('SL-T vs SL-A per FR, the devices holding each FR down, the gaps').argument('<zoneId>')).action(
    async (zoneId: string, _opts: unknown, cmd: Command) => {
      const z = await (await ctx.client(cmd)).get<ZoneDetail>(`/zones/${enc(zoneId)}`);
      ctx.output(cmd).result(z, () => renderZone(z));
    },
  );

  withApiOptions(zone.command('assign').description('add devices to the zone (a device is in one zone at most)').argument('<zoneId>').argument('<deviceIds...>')).action(
    async (zoneId: string, deviceIds: string[], _opts: unknown, cmd: Command) => {
      const z = await (await ctx.client(cmd)).put<Zone>(`/zones/${enc(zoneId)}/devices`, { add: ids(deviceIds) });
      ctx.output(cmd).result(z, () => `zone ${z.name}: ${z.devices} device(s)`);
    },
  );

  withApiOptions(zone.command('unassign').description('remove devices from the zone').argument('<zoneId>').argument('<deviceIds...>')).action(
    async (zoneId: string, deviceIds: string[], _opts: unknown, cmd: Command) => {
      const z = await (await ctx.client(cmd)).put<Zone>(`/zones/${enc(zoneId)}/devices`, { remove: ids(deviceIds) });
      ctx.output(cmd).result(z, () => `zone ${z.name}: ${z.devices} device(s)`);
    },
  );

  withApiOptions(
    zone
      .command('target')
      .description("set the zone's SL-T")
      .argument('<zoneId>')
      .requiredOption('--target <levels>', 'FR1=3,FR3=2,... (FRs not given keep their level)'),
  ).action(async (zoneId: string, opts: { target: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const current = await client.get<Zone>(`/zones/${enc(zoneId)}`);
    let levels: Record<string, number>;
    try {
      levels = mergeTarget(current.targetLevels, opts.target);
    } catch (e) {
      throw usageError(`--target: ${(e as Error).message}`);
    }
    const z = await client.put<Zone>(`/zones/${enc(zoneId)}/target-levels`, { targetLevels: levels });
    ctx.output(cmd).result(z, () => `zone ${z.name}: SL-T ${FRS.map((k) => `${k}=${z.targetLevels[k]}`).join(',')}`);
  });

  withApiOptions(
    zone
      .command('countermeasure')
      .description('record a compensating countermeasure for a requirement, with its justification')
      .argument('<zoneId>')
      .requiredOption('--requirement <id>', 'catalog requirement, e.g. "CR 3.14"')
      .requiredOption('--description <text>', 'what compensates, and why it suffices'),
  ).action(async (zoneId: string, opts: { requirement: string; description: string }, cmd: Command) => {
    const c = await (await ctx.client(cmd)).post<{ id: string; requirement: string }>(`/zones/${enc(zoneId)}/countermeasures`, opts);
    ctx.output(cmd).result(c, () => `recorded countermeasure ${c.id} for ${c.requirement}`);
  });

  const assessment = program.command('assessment').description('IEC 62443 assessment reports of a zone or a device');
  withApiOptions(
    assessment
      .command('export')
      .description('download an assessment, streamed to a file (oscal: NIST OSCAL 1.1.3 assessment-results)')
      .addOption(new Option('--zone <zoneId>', 'the zone to assess').conflicts('device'))
      .addOption(new Option('--device <deviceId>', 'the device to assess (against its product’s claimed SL-C)'))
      .addOption(new Option('--format <format>', 'report format').choices([...FORMATS]).default('csv'))
      .requiredOption('--out <file>', 'where to write the report'),
  ).action(async (opts: { zone?: string; device?: string; format: string; out: string }, cmd: Command) => {
    if (!opts.zone && !opts.device) throw usageError('give --zone <zoneId> or --device <deviceId>');
    const client = await ctx.client(cmd);
    const apiPath = opts.zone ? `/zones/${enc(opts.zone)}/assessment` : `/devices/${enc(opts.device!)}/assessment`;
    const w = await downloadTo(ctx, client, apiPath, { format: opts.format }, opts.out, `assessment ${opts.format}`);
    ctx.output(cmd).result({ out: w.file, format: opts.format, bytes: w.bytes }, () => `wrote ${opts.format} assessment ${w.file} (${formatBytes(w.bytes)})`);
  });
}
