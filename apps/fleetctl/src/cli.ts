import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import type { CliIo } from './cli-io';
import { registerAuditCommands } from './commands/audit.command';
import { CommandContext, jsonOption, keyOption, urlOption } from './commands/command-context';
import { registerDeviceCommands } from './commands/device.command';
import { registerEventLogCommands } from './commands/eventlog.command';
import { registerFirmwareCommands } from './commands/firmware.command';
import { registerFleetCommands } from './commands/fleet.command';
import { registerGrantCommands } from './commands/grant.command';
import { registerLifecycleCommands } from './commands/lifecycle.command';
import { registerLoginCommands } from './commands/login.command';
import { registerOrgCommands } from './commands/org.command';
import { registerProductCommands } from './commands/product.command';
import { registerTokenCommands } from './commands/token.command';
import { registerPsaCommands } from './commands/psa.command';
import { registerZoneCommands } from './commands/zone.command';
import { CliError, EXIT, ExitCode } from './exit-codes';

export type { CliIo } from './cli-io';
export { EXIT } from './exit-codes';
export type { ExitCode } from './exit-codes';

export interface Fleetctl {
  /** The commander program (for help text and tests). */
  readonly program: Command;
  /** Runs one command line (without `node` and the script name) and resolves to its exit code; never throws. */
  run(args: readonly string[]): Promise<ExitCode>;
}

/**
 * The whole command line, bound to `io`: nothing here reads process.* directly, so tests run
 * commands in-process and capture what they print. Build one per run.
 */
export function buildProgram(io: CliIo): Fleetctl {
  const ctx = new CommandContext(io);
  const program = new Command('fleetctl')
    .description('Fleetguard command line for manufacturers and operators')
    .version(packageVersion(), '-V, --version')
    // Options belong to the command they follow: `firmware sign --key` is a key file, while the
    // global `--key` (an API key) is accepted before any command and on every API command.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'fleetctl: ')),
    })
    .showHelpAfterError('(add --help for usage)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExit codes: 0 ok; 1 refused by the service (4xx) or verification failed; 2 usage error;\n' +
        '3 service unreachable or failing (5xx). See apps/fleetctl/README.md.',
    );

  registerLoginCommands(program, ctx);
  registerOrgCommands(program, ctx);
  registerProductCommands(program, ctx);
  registerFirmwareCommands(program, ctx);
  registerTokenCommands(program, ctx);
  registerGrantCommands(program, ctx);
  registerFleetCommands(program, ctx);
  registerDeviceCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerEventLogCommands(program, ctx);
  registerPsaCommands(program, ctx);
  registerLifecycleCommands(program, ctx);
  registerZoneCommands(program, ctx);

  return {
    program,
    async run(args) {
      try {
        await program.parseAsync([...args], { from: 'user' });
        return EXIT.ok;
      } catch (e) {
        return report(io, e, args.includes('--json'));
      }
    },
  };
}

/** Maps any failure to an exit code, telling the user once, on stderr (JSON with --json). */
function report(io: CliIo, e: unknown, json: boolean): ExitCode {
  if (e instanceof CommanderError) {
    // Commander already printed the message or the help text.
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  let error: CliError;
  if (e instanceof CliError) error = e;
  else if (isDomainErrorLike(e)) error = new CliError(e.message, EXIT.refused, e.code);
  else {
    io.stderr.write(`fleetctl: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.refused;
  }
  if (!error.reported) {
    if (json) {
      const status = (error as { status?: number }).status;
      const body = { error: { exitCode: error.exitCode, message: error.message, ...(error.code ? { code: error.code } : {}), ...(status ? { status } : {}) } };
      io.stderr.write(JSON.stringify(body) + '\n');
    } else {
      io.stderr.write(`fleetctl: ${error.message}\n`);
    }
  }
  return error.exitCode;
}

/**
 * A lib's DomainError that no command mapped (commands map the ones they expect). Recognised by
 * shape rather than with @fleetguard/common's isDomainError, which would load zod on every start.
 */
function isDomainErrorLike(e: unknown): e is Error & { code: string } {
  return e instanceof Error && e.name === 'DomainError' && typeof (e as { code?: unknown }).code === 'string';
}

/** The version of the repository's package.json (found upward from here, in src/ or dist/). */
function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'fleetguard' && pkg.version) return pkg.version;
      } catch {
        // keep looking
      }
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
