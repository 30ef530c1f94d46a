/**
 * `device-sim run`: start simulated devices against a Fleetguard service and keep them answering
 * challenges until interrupted, printing one line per attestation result.
 *
 * Exit codes: 0 ok (including a stop by SIGINT/SIGTERM), 1 the run failed (enrollment, connection),
 * 2 usage error (bad options, unreadable files).
 *
 * The command runs in `runCli` with its streams and stop signal passed in, so tests drive it
 * without a child process; main.ts wires it to the process.
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as cliProgress from 'cli-progress';
import { EAR_STATUSES } from '@fleetguard/common';
import { DEVICE_KEY_TYPES, DeviceKeyType } from './device-key.generator';
import { DeviceProfile, parseDeviceProfile } from './device-profile.schema';
import { DeviceTpmOption } from './device-tpm';
import { DEVICE_BEHAVIOURS, DeviceBehaviour } from './evidence.behaviour';
import { Fleet, FLEET_MIX_BEHAVIOURS, FleetMix, runFleet } from './fleet';
import type { LinuxDeviceOption } from './linux-device';
import { SimulatedDevice } from './simulated-device';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Aborted to stop the devices (SIGINT). */
  signal: AbortSignal;
}

/** A problem with the command line or the files it names: exit 2. */
export class UsageError extends Error {}

interface RunOptions {
  operatorUrl: string;
  deviceUrl: string;
  mqttUrl: string;
  tokenFile: string;
  count?: number;
  behaviour: DeviceBehaviour;
  mix?: FleetMix;
  profile: string;
  keyType: DeviceKeyType;
  tpm?: DeviceTpmOption['mode'];
  /** A file; false with --no-hardening; undefined: the default report. */
  hardening?: string | false;
  caFile?: string;
  concurrency: number;
  /** A TCG binary boot log: every device is a Linux device booting it. */
  linuxLog?: string;
  tamperEvent?: number;
  secureBootOff?: boolean;
  imaFile?: Array<[string, string]>;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** `--ima-file /usr/bin/app=<sha256 hex>`, repeatable. */
export function parseImaFile(value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const m = /^(\/[^=\s]*)=([0-9a-fA-F]{64})$/.exec(value);
  if (!m) throw new InvalidArgumentError('must be <absolute path>=<SHA-256 hex of the file>');
  return [...previous, [m[1], m[2].toLowerCase()]];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function url(schemes: string[]) {
  return (value: string): string => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError('not a URL');
    }
    if (!schemes.includes(u.protocol.replace(/:$/, ''))) throw new InvalidArgumentError(`scheme must be ${schemes.join(' or ')}`);
    return value;
  };
}

/** `good=90,tampered=5,rollback=3,weak=2` */
export function parseMix(value: string): FleetMix {
  const mix: Record<string, number> = {};
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) throw new InvalidArgumentError(`'${part}' is not <behaviour>=<weight>`);
    if (!(m[1] in FLEET_MIX_BEHAVIOURS)) throw new InvalidArgumentError(`unknown mix key '${m[1]}' (one of ${Object.keys(FLEET_MIX_BEHAVIOURS).join(', ')})`);
    mix[m[1]] = Number(m[2]);
  }
  if (!Object.values(mix).some((w) => w > 0)) throw new InvalidArgumentError('needs at least one positive weight');
  return mix as FleetMix;
}

/** One token per line; blank lines and `#` comments are skipped. */
export function parseTokens(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function readBytes(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}

export function buildProgram(io: CliIo, run: (options: RunOptions) => Promise<void>): Command {
  const program = new Command('device-sim')
    .description('Simulated Fleetguard devices: enroll, connect over mutual TLS, answer attestation challenges, report hardening facts.')
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('run')
    .description('start devices and keep them answering challenges until SIGINT; prints a line per attestation result')
    .addOption(new Option('--operator-url <url>', 'operator listener (GET /pki/ca)').default('http://127.0.0.1:3000').argParser(url(['http', 'https'])))
    .addOption(new Option('--device-url <url>', 'device HTTPS listener').default('https://127.0.0.1:8443').argParser(url(['https'])))
    .addOption(new Option('--mqtt-url <url>', 'MQTT over TLS').default('mqtts://127.0.0.1:8883').argParser(url(['mqtts'])))
    .requiredOption('--token-file <file>', 'enrollment tokens, one per line')
    .requiredOption('--profile <file>', 'device profile JSON: {fw: {productId, version, digest, securityCounter}, events: [{pcr, component, digest}], rollbackFw?}')
    .addOption(new Option('--count <n>', 'devices to start (default: one per token)').argParser(positiveInt))
    .addOption(new Option('--behaviour <behaviour>', 'how every device behaves').choices(DEVICE_BEHAVIOURS).default('good'))
    .addOption(new Option('--mix <weights>', `behaviour weights instead of --behaviour, e.g. good=90,tampered=5,rollback=3,weak=2 (keys: ${Object.keys(FLEET_MIX_BEHAVIOURS).join(', ')})`).argParser(parseMix))
    .addOption(new Option('--key-type <type>', 'device key type').choices(DEVICE_KEY_TYPES).default('P-256'))
    .addOption(new Option('--tpm <mode>', 'give each device a TPM: swtpm (real, needs swtpm + tpm2-tools) or software').choices(['swtpm', 'software']))
    .option('--hardening <file>', 'hardening report JSON to send on connect (default: a good report, or a weak one for weak-config)')
    .option('--no-hardening', 'send no hardening report')
    .option('--ca-file <file>', 'trust this CA chain (PEM) instead of fetching GET /pki/ca')
    .addOption(new Option('--concurrency <n>', 'devices enrolling at once').default(16).argParser(positiveInt))
    .option('--linux-log <file>', 'Linux devices: boot this TCG binary event log (e.g. a copy of /sys/kernel/security/tpm0/binary_bios_measurements) into the TPM (--tpm, default software) and send it with a quote')
    .addOption(new Option('--tamper-event <n>', 'with --linux-log: alter this event (its digest changed and extended as such)').argParser(nonNegativeInt))
    .option('--secure-boot-off', 'with --linux-log: boot with the SecureBoot variable set to 0')
    .addOption(new Option('--ima-file <path=sha256>', 'with --linux-log: an IMA entry measured after boot_aggregate (repeatable)').argParser(parseImaFile))
    .action(async (options: RunOptions) => {
      await run(options);
    });
  return program;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, async (options) => {
    code = await runDevices(options, io);
  });
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`device-sim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`device-sim: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

async function runDevices(options: RunOptions, io: CliIo): Promise<number> {
  const tokens = parseTokens(await readText(options.tokenFile, 'token file'));
  if (tokens.length === 0) throw new UsageError(`token file ${options.tokenFile} has no tokens`);
  const count = options.count ?? tokens.length;
  if (count > tokens.length) throw new UsageError(`--count ${count} needs ${count} tokens; ${options.tokenFile} has ${tokens.length}`);
  let profile: DeviceProfile;
  try {
    profile = parseDeviceProfile(await readJson(options.profile, 'profile'));
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`${options.profile}: ${(e as Error).message}`);
  }
  const hardening =
    typeof options.hardening === 'string'
      ? ((await readJson(options.hardening, 'hardening report')) as Record<string, unknown>)
      : options.hardening === false
        ? (false as const)
        : undefined;
  const caPem = options.caFile ? await readText(options.caFile, 'CA file') : undefined;
  let linux: LinuxDeviceOption | undefined;
  if (options.linuxLog) {
    if (options.tpm === undefined) options.tpm = 'software';
    linux = {
      eventLog: await readBytes(options.linuxLog, 'TCG event log'),
      tpm: options.tpm,
      ...(options.tamperEvent !== undefined || options.secureBootOff ? { tamper: { ...(options.tamperEvent !== undefined ? { event: options.tamperEvent } : {}), ...(options.secureBootOff ? { secureBootOff: true } : {}) } } : {}),
      ...(options.imaFile?.length ? { imaFiles: options.imaFile } : {}),
    };
  } else if (options.tamperEvent !== undefined || options.secureBootOff || options.imaFile?.length) {
    throw new UsageError('--tamper-event, --secure-boot-off and --ima-file need --linux-log');
  }
  const mix: FleetMix = options.mix ?? { [mixKeyOf(options.behaviour)]: 1 };
  if ((mix.rollback ?? 0) > 0 && !profile.rollbackFw && profile.fw.securityCounter < 1) {
    throw new UsageError('rollback devices need profile.rollbackFw or a firmware security counter of at least 1');
  }

  const write = (line: string) => io.stdout.write(line + '\n');
  const log = (line: string) => io.stderr.write(line + '\n');
  const statusCounts = new Map<string, number>();
  const bar = io.stderr.isTTY && count > 1 ? new cliProgress.SingleBar({ stream: io.stderr, format: 'enrolling [{bar}] {value}/{total} devices, {failed} failed', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  bar?.start(count, 0, { failed: 0 });

  const attach = (device: SimulatedDevice) => {
    device.on('result', (_ear, summary) => {
      statusCounts.set(summary.status, (statusCounts.get(summary.status) ?? 0) + 1);
      const reasons = summary.reasons.length ? `  ${summary.reasons.join('; ')}` : '';
      write(`${new Date().toISOString()} ${device.deviceId} ${device.behaviour} ${summary.status}${reasons}`);
    });
    device.on('device-error', (e) => log(`${new Date().toISOString()} ${device.isEnrolled ? device.deviceId : '(enrolling)'} error: ${e.message}`));
  };

  let fleet: Fleet;
  try {
    fleet = await runFleet({
      operatorUrl: options.operatorUrl,
      deviceUrl: options.deviceUrl,
      mqttUrl: options.mqttUrl,
      count,
      mix,
      tokens,
      profile,
      keyType: options.keyType,
      ...(options.tpm && !linux ? { tpm: { mode: options.tpm } as DeviceTpmOption } : {}),
      ...(linux ? { linux } : {}),
      ...(hardening !== undefined ? { hardening } : {}),
      ...(caPem ? { caPem } : {}),
      concurrency: options.concurrency,
      allowFailures: true,
      signal: io.signal,
      onDevice: (device) => attach(device),
      onProgress: ({ done, failed }) => bar?.update(done + failed, { failed }),
    });
  } catch (e) {
    bar?.stop();
    if (io.signal.aborted) {
      log('device-sim: stopped before all devices started');
      return EXIT_OK;
    }
    throw e;
  }
  bar?.stop();
  for (const f of fleet.failures) log(`device ${f.index} (${f.behaviour}) failed: ${f.error.message}`);
  if (fleet.devices.length === 0) {
    log('device-sim: no device started');
    return EXIT_FAILURE;
  }
  const behaviours = [...new Set(fleet.devices.map((d) => d.behaviour))].map((b) => `${fleet.byBehaviour(b).length} ${b}`).join(', ');
  log(`device-sim: ${fleet.devices.length} devices connected (${behaviours}); Ctrl-C to stop`);

  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log('device-sim: stopping');
  await fleet.close();
  const order: readonly string[] = EAR_STATUSES;
  const rank = (s: string) => (order.includes(s) ? order.indexOf(s) : order.length);
  const summary = [...statusCounts]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  log(`device-sim: stopped; results: ${summary || 'none'}`);
  return fleet.failures.length ? EXIT_FAILURE : EXIT_OK;
}

function mixKeyOf(behaviour: DeviceBehaviour): keyof FleetMix {
  const key = (Object.keys(FLEET_MIX_BEHAVIOURS) as (keyof FleetMix)[]).find((k) => FLEET_MIX_BEHAVIOURS[k] === behaviour);
  return key!;
}
