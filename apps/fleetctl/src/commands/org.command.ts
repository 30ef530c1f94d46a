import { Command, InvalidArgumentError, Option } from 'commander';
import { columnsFor, itemsOf, renderRecord, renderTable } from '../output';
import { CommandContext, withApiOptions } from './command-context';

const ROLES = ['admin', 'manufacturer', 'operator', 'auditor'] as const;
const enc = encodeURIComponent;

/** `fleetctl org ...` and `fleetctl key ...`: tenants and their API keys (admin). */
export function registerOrgCommands(program: Command, ctx: CommandContext): void {
  const org = program.command('org').description('organizations (tenants); admin only');

  withApiOptions(
    org
      .command('create')
      .description('create an organization')
      .argument('<name>')
      .addOption(new Option('--kind <kind>', 'what the tenant does').choices(['manufacturer', 'operator']).makeOptionMandatory()),
  ).action(async (name: string, opts: { kind: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const created = await client.post<Record<string, unknown>>('/organizations', { name, kind: opts.kind });
    ctx.output(cmd).result(created, () => renderRecord(created));
  });

  withApiOptions(org.command('list').description('list organizations')).action(async (_opts: unknown, cmd: Command) => {
    const client = await ctx.client(cmd);
    const orgs = await client.get<unknown>('/organizations');
    const rows = itemsOf(orgs);
    ctx.output(cmd).result(orgs, () => renderTable(columnsFor(rows, ['id', 'name', 'kind', 'createdAt']), rows));
  });

  const key = program.command('key').description('API keys; admin only');

  withApiOptions(
    key
      .command('create')
      .description('create an API key for an organization; the key is shown once')
      .requiredOption('--org <organizationId>', 'the organization the key belongs to')
      .requiredOption('--roles <roles>', `comma-separated: ${ROLES.join(', ')}`, parseRoles)
      .option('--label <label>', 'a name to recognise the key by'),
  ).action(async (opts: { org: string; roles: string[]; label?: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const created = await client.post<Record<string, unknown>>('/api-keys', {
      organizationId: opts.org,
      roles: opts.roles,
      ...(opts.label !== undefined ? { label: opts.label } : {}),
    });
    const out = ctx.output(cmd);
    out.result(created, () => renderRecord(created));
    if (!out.json) out.note('Store the key now: the service does not show it again.');
  });

  withApiOptions(key.command('revoke').description('revoke an API key').argument('<id>')).action(
    async (id: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      await client.delete(`/api-keys/${enc(id)}`);
      ctx.output(cmd).result({ id, revoked: true }, () => `revoked API key ${id}`);
    },
  );
}

export function parseRoles(raw: string): string[] {
  const roles = [...new Set(raw.split(',').map((r) => r.trim()).filter(Boolean))];
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || bad.length) {
    throw new InvalidArgumentError(`roles must be a comma-separated list of ${ROLES.join(', ')}${bad.length ? `; not ${bad.join(', ')}` : ''}`);
  }
  return roles;
}
