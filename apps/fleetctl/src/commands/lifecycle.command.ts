import { Readable } from 'node:stream';
import { Command } from 'commander';
import { resolvePath } from '../cli-io';
import { fileSize, openByteStream } from '../local-files';
import { renderRecord } from '../output';
import { CommandContext, withApiOptions } from './command-context';

const enc = encodeURIComponent;

/** Media types by file name; the service recognises the format from the content anyway. */
function sbomContentType(file: string): string {
  if (/\.xml$/i.test(file)) return 'application/vnd.cyclonedx+xml';
  if (/\.spdx$/i.test(file)) return 'text/spdx';
  if (/\.spdx\.json$/i.test(file)) return 'application/spdx+json';
  if (/\.json$/i.test(file)) return 'application/vnd.cyclonedx+json';
  return 'application/octet-stream';
}

async function send(ctx: CommandContext, cmd: Command, method: 'POST' | 'PUT', apiPath: string, file: string, contentType: string): Promise<unknown> {
  const local = resolvePath(ctx.io, file);
  const size = await fileSize(local, 'document');
  const client = await ctx.client(cmd);
  const stream = Readable.toWeb(openByteStream(local)) as unknown as ReadableStream<Uint8Array>;
  return client.upload(apiPath, stream, { method, contentType, contentLength: size });
}

/** `fleetctl sbom upload`, `fleetctl advisory upload`, `fleetctl vex upload` (manufacturer). */
export function registerLifecycleCommands(program: Command, ctx: CommandContext): void {
  const sbom = program.command('sbom').description("a firmware release's SBOM (CycloneDX 1.4-1.6 JSON/XML, SPDX 2.2/2.3 JSON/tag-value)");
  withApiOptions(sbom.command('upload').description("upload a release's SBOM").argument('<productId>').argument('<version>').argument('<file>')).action(
    async (productId: string, version: string, file: string, _opts: unknown, cmd: Command) => {
      const r = (await send(ctx, cmd, 'PUT', `/products/${enc(productId)}/firmware/${enc(version)}/sbom`, file, sbomContentType(file))) as { components?: unknown[] };
      ctx.output(cmd).result(r, () => `SBOM of ${version}: ${r.components?.length ?? 0} components\n`);
    },
  );
  withApiOptions(sbom.command('show').description("a release's normalised components").argument('<productId>').argument('<version>')).action(
    async (productId: string, version: string, _opts: unknown, cmd: Command) => {
      const r = await (await ctx.client(cmd)).get<unknown>(`/products/${enc(productId)}/firmware/${enc(version)}/sbom`);
      ctx.output(cmd).result(r, () => renderRecord(r));
    },
  );
  const advisory = program.command('advisory').description('CSAF 2.0 security advisories');
  withApiOptions(advisory.command('upload').description('upload a CSAF 2.0 advisory (validated, then matched to the releases)').argument('<file>')).action(
    async (file: string, _opts: unknown, cmd: Command) => {
      const r = (await send(ctx, cmd, 'POST', '/advisories', file, 'application/csaf+json')) as { trackingId?: string; exposedDevices?: number };
      ctx.output(cmd).result(r, () => `advisory ${r.trackingId}: ${r.exposedDevices} exposed devices\n`);
    },
  );
  const vex = program.command('vex').description('VEX statements (OpenVEX, CycloneDX VEX, CSAF VEX)');
  withApiOptions(vex.command('upload').description('upload a VEX document; exposure is recomputed').argument('<file>')).action(async (file: string, _opts: unknown, cmd: Command) => {
    const r = (await send(ctx, cmd, 'POST', '/vex', file, 'application/vex+json')) as { format?: string; statements?: number };
    ctx.output(cmd).result(r, () => `${r.format}: ${r.statements} statements\n`);
  });
}
