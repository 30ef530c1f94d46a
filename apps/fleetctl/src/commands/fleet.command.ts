import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Command, Option } from 'commander';
import type { ApiClient, Query } from '../api-client';
import { resolvePath } from '../cli-io';
import { writeAtomically } from '../local-files';
import { renderRecord } from '../output';
import { formatBytes, startProgress } from '../progress';
import { CommandContext, withApiOptions } from './command-context';

/** `fleetctl fleet summary`, `fleetctl export` (operator, auditor). */
export function registerFleetCommands(program: Command, ctx: CommandContext): void {
  const fleet = program.command('fleet').description('the fleet at a glance');

  withApiOptions(fleet.command('summary').description('status counts, SL-C distribution, firmware versions')).action(
    async (_opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const summary = await client.get<unknown>('/fleet/summary');
      ctx.output(cmd).result(summary, () => renderRecord(summary));
    },
  );

  withApiOptions(
    program
      .command('export')
      .description('download the fleet report, streamed to a file')
      .addOption(new Option('--format <format>', 'report format').choices(['csv', 'json']).default('csv'))
      .requiredOption('--out <file>', 'where to write the report'),
  ).action(async (opts: { format: string; out: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const written = await downloadTo(ctx, client, '/fleet/report', { format: opts.format }, opts.out, `exporting ${opts.format}`);
    ctx.output(cmd).result({ out: written.file, format: opts.format, bytes: written.bytes }, () => `wrote ${opts.format} report ${written.file} (${formatBytes(written.bytes)})`);
  });
}

/** Streams a GET's body into `out` (written atomically, mode 0600, never overwriting), with a progress bar. */
export async function downloadTo(ctx: CommandContext, client: ApiClient, apiPath: string, query: Query, out: string, label: string): Promise<{ file: string; bytes: number }> {
  const file = resolvePath(ctx.io, out);
  const report = await client.download(apiPath, query);
  const progress = startProgress(ctx.io, label, report.contentLength);
  try {
    await writeAtomically(file, async (tmp) => {
      const sink = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      try {
        for await (const chunk of report.body as unknown as AsyncIterable<Uint8Array>) {
          progress.advance(chunk.byteLength);
          if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
        }
        sink.end();
        await finished(sink);
      } catch (e) {
        sink.destroy();
        throw e;
      }
    });
  } finally {
    progress.stop();
  }
  return { file, bytes: progress.bytes };
}
