import { Command } from 'commander';
import { ApiClient } from '../api-client';
import { configPath, removeLogin, saveLogin } from '../config.store';
import { usageError } from '../exit-codes';
import { CommandContext, withApiOptions, withJsonOption } from './command-context';

/** `fleetctl login` / `logout`: the saved {url, key} that later commands use by default. */
export function registerLoginCommands(program: Command, ctx: CommandContext): void {
  withApiOptions(
    program
      .command('login')
      .description(`check an API key against the service and save it (0600) in ${'$FLEETCTL_CONFIG'} or ~/.config/fleetctl/config.json`),
  ).action(async (_opts: unknown, cmd: Command) => {
    const target = await ctx.target(cmd);
    if (target.keySource !== 'flag' && target.keySource !== 'env') {
      throw usageError('give the API key to save: --key <key> (or FLEETCTL_KEY in the environment, which keeps it out of shell history)');
    }
    // The catalog answers any valid key: a cheap check that URL and key go together.
    const client = new ApiClient({ baseUrl: target.url, apiKey: target.key, fetch: ctx.fetch });
    await client.get('/catalog');
    const file = await saveLogin(ctx.io, { url: target.url, key: target.key! });
    ctx.output(cmd).result({ url: target.url, config: file }, () => `logged in to ${target.url}; saved to ${file}`);
  });

  withJsonOption(program.command('logout').description('forget the saved login')).action(async (_opts: unknown, cmd: Command) => {
    const file = configPath(ctx.io);
    const removed = await removeLogin(ctx.io);
    ctx.output(cmd).result({ removed, config: file }, () => (removed ? `logged out; removed ${file}` : `not logged in (no ${file})`));
  });
}
