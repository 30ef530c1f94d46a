import { Argument, Command, Option } from 'commander';
import { promises as fs } from 'node:fs';
import { resolvePath } from '../cli-io';
import { fileSize, readTextFile, reason } from '../local-files';
import { refusedError, usageError } from '../exit-codes';
import { renderTable } from '../output';
import { CommandContext, withApiOptions, withJsonOption } from './command-context';

const MAX_LOG_BYTES = 2 * 1024 * 1024;

/** The --json shape of `eventlog replay` (SPEC "Reference values and policies"). */
export interface EventLogReplay {
  events: { pcr: number; type: string; digests: Record<string, string> }[];
  pcrs: Record<string, Record<string, string>>;
}

/**
 * `fleetctl eventlog replay FILE` (offline: a TCG binary event log, e.g.
 * /sys/kernel/security/tpm0/binary_bios_measurements) and `fleetctl policy import-keylime
 * measured-boot|runtime FILE --product ID` (checked here, then stored by the service).
 * The attestation core is loaded on demand, as the firmware commands do.
 */
export function registerEventLogCommands(program: Command, ctx: CommandContext): void {
  const eventlog = program.command('eventlog').description('TCG PC Client binary event logs (measured boot)');
  withJsonOption(eventlog.command('replay').description("print a log's events and, per bank, the PCR values it replays to").argument('<file>')).action(async (file: string, _opts: unknown, cmd: Command) => {
    const path = resolvePath(ctx.io, file);
    const size = await fileSize(path, 'event log');
    if (size > MAX_LOG_BYTES) throw usageError(`event log ${path} is ${size} bytes, more than ${MAX_LOG_BYTES}`);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      throw usageError(`cannot read event log ${path}: ${reason(e)}`);
    }
    const core = await import('@fleetguard/attestation');
    let log;
    try {
      log = core.parseTcgEventLog(bytes);
    } catch (e) {
      const err = e as { name?: string; code?: string; message: string };
      if (err.name === 'DomainError') throw refusedError(err.message, err.code);
      throw e;
    }
    const result: EventLogReplay = { events: log.events.map((e) => ({ pcr: e.pcr, type: e.typeName, digests: e.digests })), pcrs: core.replayTcgEventLog(log) };
    ctx.output(cmd).result(result, () => {
      const rows = log.events.map((e) => ({ n: e.index, pcr: e.pcr, type: e.typeName, sha256: e.digests.sha256 ?? Object.values(e.digests)[0], what: core.eventLabel(e) ?? '' }));
      const banks = Object.entries(result.pcrs).map(([bank, pcrs]) => `${bank}:\n${Object.entries(pcrs).map(([p, v]) => `  ${p.padStart(2)}: ${v}`).join('\n')}`);
      return `${renderTable([{ key: 'n' }, { key: 'pcr' }, { key: 'type' }, { key: 'sha256' }, { key: 'what' }], rows)}\n${banks.join('\n')}`;
    });
  });

  const policy = program.command('policy').description("a product's measured-boot and runtime (IMA) policies");
  withApiOptions(
    policy
      .command('import-keylime')
      .description('import a Keylime measured-boot reference state or runtime policy v1 for a product')
      .addArgument(new Argument('<kind>', 'measured-boot or runtime').choices(['measured-boot', 'runtime']))
      .argument('<file>', 'the Keylime JSON file')
      .addOption(new Option('--product <id>', 'product id').makeOptionMandatory()),
  ).action(async (kind: 'measured-boot' | 'runtime', file: string, opts: { product: string }, cmd: Command) => {
    const path = resolvePath(ctx.io, file);
    let json: unknown;
    try {
      json = JSON.parse(await readTextFile(path, 'Keylime policy', 64 * 1024 * 1024));
    } catch (e) {
      if (e instanceof SyntaxError) throw usageError(`Keylime policy ${path} is not JSON: ${e.message}`);
      throw e;
    }
    const core = await import('@fleetguard/attestation');
    try {
      if (kind === 'measured-boot') {
        if (core.parseMeasuredBootPolicy(json).source !== 'keylime') throw usageError(`${path} is not a Keylime measured-boot reference state (no scrtm_and_bios, kernels, mokdig)`);
      } else core.parseRuntimePolicy(json);
    } catch (e) {
      const err = e as { name?: string; code?: string; message: string };
      if (err.name === 'DomainError') throw refusedError(err.message, err.code);
      throw e;
    }
    const client = await ctx.client(cmd);
    const stored = await client.put<Record<string, unknown>>(`/products/${encodeURIComponent(opts.product)}/${kind === 'measured-boot' ? 'measured-boot-policy' : 'runtime-policy'}`, json);
    ctx.output(cmd).result(stored, () => `imported the Keylime ${kind} policy for product ${opts.product}: ${JSON.stringify(stored)}`);
  });
}
