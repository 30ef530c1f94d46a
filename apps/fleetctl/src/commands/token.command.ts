import { promises as fs } from 'node:fs';
import { Command } from 'commander';
import { resolvePath } from '../cli-io';
import { unavailableError } from '../exit-codes';
import { writeAtomically } from '../local-files';
import { CommandContext, positiveInt, withApiOptions } from './command-context';

const enc = encodeURIComponent;

interface TokenOptions {
  count: number;
  expires: number;
  grant?: string;
  out?: string;
}

/** `fleetctl token create`: enrollment tokens for the factory line (manufacturer). */
export function registerTokenCommands(program: Command, ctx: CommandContext): void {
  const token = program.command('token').description('enrollment tokens (single use, expiring, bound to a product)');

  withApiOptions(
    token
      .command('create')
      .description('mint enrollment tokens; printed one per line, or written to --out (0600)')
      .argument('<productId>')
      .option('--count <n>', 'how many tokens', positiveInt('--count', 10_000), 1)
      .option('--expires <seconds>', 'lifetime in seconds', positiveInt('--expires', 365 * 24 * 3600), 3600)
      .option('--grant <grantId>', "put the devices into the fleet of the operator that issued this enrollment grant (its consent)")
      .option('--out <file>', 'write the tokens to this file, one per line, readable by its owner only'),
  ).action(async (productId: string, opts: TokenOptions, cmd: Command) => {
    const client = await ctx.client(cmd);
    const result = await client.post<{ tokens?: unknown }>(`/products/${enc(productId)}/enrollment-tokens`, {
      count: opts.count,
      expiresInSeconds: opts.expires,
      ...(opts.grant !== undefined ? { grantId: opts.grant } : {}),
    });
    const tokens = Array.isArray(result?.tokens) ? result.tokens.map(String) : null;
    if (!tokens) throw unavailableError('the service answered without a "tokens" list', 'bad-response');
    const out = ctx.output(cmd);
    if (opts.out) {
      const file = resolvePath(ctx.io, opts.out);
      // Tokens enroll devices: secrets, so owner-only like the saved login.
      await writeAtomically(file, (tmp) => fs.writeFile(tmp, tokens.join('\n') + '\n', { flag: 'wx', mode: 0o600 }));
      out.result(result, () => `wrote ${tokens.length} token(s) for product ${productId} to ${file} (valid ${opts.expires} s)`);
    } else {
      out.result(result, () => tokens.join('\n'));
    }
  });
}
