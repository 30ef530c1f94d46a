import { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes';
import { CommandContext, withApiOptions } from './command-context';

type ChainVerdict = { ok: true; entries: number; head: string } | { ok: false; entries: number; brokenAt: number; reason: string };

/** `fleetctl audit verify`: the hash-chained audit log checked by the service (auditor, admin). */
export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  withApiOptions(audit.command('verify').description('check the audit log hash chain; exit 1 if it is broken')).action(
    async (_opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const verdict = await client.get<ChainVerdict>('/audit/verify');
      ctx.output(cmd).result(verdict, () =>
        verdict.ok
          ? `audit log OK: ${verdict.entries} entries, head ${verdict.head}`
          : `audit log BROKEN at entry ${verdict.brokenAt} (after ${verdict.entries} good entries): ${verdict.reason}`,
      );
      if (verdict?.ok !== true) throw new CliError('the audit log does not verify', EXIT.refused, 'audit.broken', true);
    },
  );
}
