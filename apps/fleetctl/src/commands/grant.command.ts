import { Command } from 'commander';
import { columnsFor, itemsOf, renderRecord, renderTable } from '../output';
import { CommandContext, positiveInt, withApiOptions } from './command-context';

const enc = encodeURIComponent;

interface GrantOptions {
  manufacturer: string;
  product?: string;
  maxDevices: number;
  expires: number;
}

/**
 * `fleetctl grant ...` (operator): enrollment grants, the operator's consent for a manufacturer's
 * devices to join its fleet. The manufacturer names the grant in `fleetctl token create --grant`.
 */
export function registerGrantCommands(program: Command, ctx: CommandContext): void {
  const grant = program.command('grant').description("enrollment grants: an operator's consent for a manufacturer's devices to join its fleet (operator)");

  withApiOptions(
    grant
      .command('create')
      .description('issue an enrollment grant; give its id to the manufacturer (token create --grant)')
      .requiredOption('--manufacturer <organizationId>', 'the manufacturer allowed to put devices into this fleet')
      .option('--product <productId>', "only this product's devices (default: any of the manufacturer's)")
      .option('--max-devices <n>', 'how many devices may enroll under it', positiveInt('--max-devices', 1_000_000), 100)
      .option('--expires <seconds>', 'lifetime in seconds (60 to 366 days)', positiveInt('--expires', 366 * 24 * 3600), 30 * 24 * 3600),
  ).action(async (opts: GrantOptions, cmd: Command) => {
    const client = await ctx.client(cmd);
    const created = await client.post<Record<string, unknown>>('/enrollment-grants', {
      manufacturerOrganizationId: opts.manufacturer,
      maxDevices: opts.maxDevices,
      expiresInSeconds: opts.expires,
      ...(opts.product !== undefined ? { productId: opts.product } : {}),
    });
    ctx.output(cmd).result(created, () => renderRecord(created));
  });

  withApiOptions(grant.command('list').description("this operator's enrollment grants")).action(async (_opts: unknown, cmd: Command) => {
    const client = await ctx.client(cmd);
    const grants = await client.get<unknown>('/enrollment-grants');
    const rows = itemsOf(grants);
    ctx.output(cmd).result(grants, () => renderTable(columnsFor(rows, ['id', 'manufacturerOrganizationId', 'productId', 'usedDevices', 'maxDevices', 'expiresAt']), rows));
  });

  withApiOptions(grant.command('withdraw').description('withdraw a grant: no further device enrolls under it').argument('<grantId>')).action(
    async (id: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      await client.delete(`/enrollment-grants/${enc(id)}`);
      ctx.output(cmd).result({ id, withdrawn: true }, () => `withdrew enrollment grant ${id}`);
    },
  );
}
