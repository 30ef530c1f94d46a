import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolvePath } from '../cli-io';
import { CliError, EXIT, unavailableError, usageError } from '../exit-codes';
import type { Inspection, VerifyOutcome } from '../firmware';
import type { McubootVerdict } from '@fleetguard/firmware';
import { fileSize, openByteStream, readHead, readPrivateKey, readTextFile, writeAtomically } from '../local-files';
import { formatCell, itemsOf, renderRecord, renderTable } from '../output';
import { formatBytes, startProgress } from '../progress';
import { CommandContext, nonNegativeInt, withApiOptions, withJsonOption } from './command-context';

/** The firmware lib, loaded only by the commands that use it (see ../firmware/index.ts). */
const loadFirmware = () => import('../firmware');

const MAX_MANIFEST_BYTES = 16 * 1024;
const MAX_REFS_BYTES = 4 * 1024 * 1024;
const enc = encodeURIComponent;

interface SignOptions {
  key: string;
  product?: string;
  version: string;
  counter?: number;
  format: 'manifest' | 'mcuboot';
  out?: string;
  headerSize?: number;
  loadAddress?: number;
}

interface VerifyOptions {
  pub?: string[];
  manifest?: string;
  product?: string;
  minCounter?: number;
}

/** `fleetctl firmware ...`: offline sign / verify / inspect, and releases on the service. */
export function registerFirmwareCommands(program: Command, ctx: CommandContext): void {
  const firmware = program.command('firmware').description('sign, verify and inspect images offline; upload and manage releases');

  withJsonOption(
    firmware
      .command('sign')
      .description('sign an image offline: a detached JWS manifest (default), or a signed MCUboot image')
      .argument('<image>', 'the image file')
      .requiredOption('--key <priv.pem>', 'signing private key (PEM; EC P-256, Ed25519, or RSA 2048/3072 for MCUboot); an encrypted key is opened with $FLEETCTL_SIGNING_PASSPHRASE')
      .option('--product <productId>', 'product id (required for a manifest)')
      .requiredOption('--version <version>', 'release version (MCUboot: major.minor[.revision[+build]])')
      .option('--counter <n>', 'security counter for anti-rollback (required for a manifest)', nonNegativeInt('--counter', 0xffffffff))
      .addOption(new Option('--format <format>', 'output format').choices(['manifest', 'mcuboot']).default('manifest'))
      .option('--out <file>', 'output file (manifest: default stdout; mcuboot: required)')
      .option('--header-size <bytes>', 'MCUboot header size, e.g. 0x200 (default 32)', byteCount('--header-size', 0xffff))
      .option('--load-address <addr>', 'MCUboot load address, e.g. 0x08000000 (default 0)', byteCount('--load-address', 0xffffffff)),
  ).action(async (image: string, opts: SignOptions, cmd: Command) => {
    const out = ctx.output(cmd);
    const imagePath = resolvePath(ctx.io, image);
    const outPath = opts.out !== undefined ? resolvePath(ctx.io, opts.out) : undefined;
    if (outPath === imagePath) throw usageError('--out must not be the input image');
    if (opts.format === 'manifest') {
      if (!opts.product) throw usageError('--product <productId> is required to sign a manifest');
      if (opts.counter === undefined) throw usageError('--counter <n> is required to sign a manifest');
      if (opts.headerSize !== undefined || opts.loadAddress !== undefined) {
        throw usageError('--header-size and --load-address apply to --format mcuboot only');
      }
    } else if (!outPath) {
      throw usageError('--out <file> is required with --format mcuboot');
    }
    const key = await readPrivateKey(resolvePath(ctx.io, opts.key), ctx.io.env.FLEETCTL_SIGNING_PASSPHRASE);
    const { buildSignedMcuboot, signDetachedManifest } = await loadFirmware();

    if (opts.format === 'manifest') {
      const signed = await signDetachedManifest(imagePath, key, { productId: opts.product!, version: opts.version, securityCounter: opts.counter! });
      if (outPath) await writeAtomically(outPath, (tmp) => fs.writeFile(tmp, signed.jws + '\n', { flag: 'wx', mode: 0o644 }));
      out.result({ format: 'manifest', keyId: signed.keyId, manifest: signed.manifest, jws: signed.jws, ...(outPath ? { out: outPath } : {}) }, () =>
        outPath
          ? `signed manifest for ${opts.product} ${opts.version} (counter ${opts.counter}, ${signed.manifest.digest}, ${signed.manifest.size} bytes) by key ${signed.keyId}\nwrote ${outPath}`
          : signed.jws,
      );
      return;
    }
    const verdict = await buildSignedMcuboot(imagePath, outPath!, key, {
      version: opts.version,
      securityCounter: opts.counter,
      headerSize: opts.headerSize,
      loadAddress: opts.loadAddress,
    });
    out.result({ out: outPath, ...verdict }, () => `wrote signed MCUboot image ${outPath}\n${renderRecord(verdict)}`);
  });

  withJsonOption(
    firmware
      .command('verify')
      .description('verify an image offline with trusted public keys; exit 1 with the reason when it fails')
      .argument('<image>', 'MCUboot image, or any image with --manifest')
      .option('--pub <pub.pem>', 'trusted public key (required; repeat for a key set)', collect)
      .option('--manifest <file.jws>', 'detached manifest of the image')
      .option('--product <productId>', 'the product the manifest must be for (default: the one it names)')
      .option('--min-counter <n>', "the product's minimum security counter: below it is a rollback (a failure)", nonNegativeInt('--min-counter', 0xffffffff)),
  ).action(async (image: string, opts: VerifyOptions, cmd: Command) => {
    const out = ctx.output(cmd);
    const { checkKeySet, publicKeyFromPem, verifyFirmwareFile } = await loadFirmware();
    const keys = [];
    for (const file of opts.pub ?? []) keys.push(publicKeyFromPem(file, await readTextFile(resolvePath(ctx.io, file), 'public key', 64 * 1024)));
    checkKeySet(keys);
    const manifest = opts.manifest ? await readTextFile(resolvePath(ctx.io, opts.manifest), 'manifest', MAX_MANIFEST_BYTES) : undefined;
    const outcome = await verifyFirmwareFile({
      imagePath: resolvePath(ctx.io, image),
      keys,
      manifest,
      productId: opts.product,
      minSecurityCounter: opts.minCounter,
    });
    out.result(outcomeJson(outcome), () => renderOutcome(image, outcome));
    if (!outcome.ok) throw new CliError(outcome.reason, EXIT.refused, outcome.code, true);
  });

  withJsonOption(
    firmware
      .command('inspect')
      .description('describe an image without verifying it: MCUboot header and TLVs, a manifest, or a raw image digest')
      .argument('<image>', 'image or manifest file'),
  ).action(async (image: string, _opts: unknown, cmd: Command) => {
    const { inspectFirmwareFile } = await loadFirmware();
    const inspection = await inspectFirmwareFile(resolvePath(ctx.io, image));
    ctx.output(cmd).result(inspection, () => renderInspection(inspection));
  });

  withApiOptions(
    firmware
      .command('upload')
      .description('upload a release: the image is streamed, verified and recorded by the service')
      .argument('<productId>')
      .argument('<image>')
      .option('--manifest <file.jws>', 'detached manifest (required unless the image is MCUboot)'),
  ).action(async (productId: string, image: string, opts: { manifest?: string }, cmd: Command) => {
    const out = ctx.output(cmd);
    const imagePath = resolvePath(ctx.io, image);
    const size = await fileSize(imagePath, 'image');
    const manifest = opts.manifest ? (await readTextFile(resolvePath(ctx.io, opts.manifest), 'manifest', MAX_MANIFEST_BYTES)).trim() : undefined;
    const fw = await loadFirmware();
    const head = await readHead(imagePath, 'image', 4);
    if (!manifest && !fw.hasMcubootMagic(head) && !fw.looksLikeIntelHex(head)) {
      throw usageError(`${image} is not an MCUboot image (binary or Intel HEX): pass its detached manifest with --manifest <file.jws>`);
    }
    const client = await ctx.client(cmd);
    const progress = startProgress(ctx.io, `uploading ${basename(imagePath)}`, size);
    const source = byteStreamOf(imagePath, (n) => progress.advance(n));
    let release: unknown;
    try {
      release = await client.upload(`/products/${enc(productId)}/firmware`, source.stream, {
        contentType: 'application/octet-stream',
        contentLength: size,
        headers: manifest ? { 'x-firmware-manifest': manifest } : {},
      });
    } catch (e) {
      if (source.error()) throw usageError(`cannot read image ${image}: ${source.error()!.message}`);
      if (e instanceof CliError && e.code === 'unreachable' && progress.bytes > 0) {
        // The service dropped the connection mid-body: it may have refused the image early
        // without letting its answer through. Say so rather than "cannot reach".
        throw unavailableError(
          `the service closed the connection after ${formatBytes(progress.bytes)} of ${formatBytes(size)} were sent (${e.message}); it may have refused the image: check its log`,
          'upload-interrupted',
        );
      }
      throw e;
    } finally {
      progress.stop();
    }
    out.result(release, () => `uploaded ${image} (${formatBytes(size)})\n${renderRecord(release)}`);
  });

  withApiOptions(firmware.command('list').description("a product's firmware releases").argument('<productId>')).action(
    async (productId: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const releases = await client.get<unknown>(`/products/${enc(productId)}/firmware`);
      ctx.output(cmd).result(releases, () =>
        renderTable(
          ['version', 'format', 'securityCounter', 'status', 'size', 'digest', 'signerKeyId', 'createdAt'].map((key) => ({ key })),
          itemsOf(releases),
        ),
      );
    },
  );

  withApiOptions(
    firmware
      .command('revoke')
      .description('revoke a release: devices running it stop being trusted')
      .argument('<productId>')
      .argument('<version>')
      .option('--reason <text>', 'why, for the record'),
  ).action(async (productId: string, version: string, opts: { reason?: string }, cmd: Command) => {
    const client = await ctx.client(cmd);
    const result = await client.post<unknown>(
      `/products/${enc(productId)}/firmware/${enc(version)}/revoke`,
      opts.reason !== undefined ? { reason: opts.reason } : {},
    );
    ctx.output(cmd).result(result ?? { productId, version, status: 'revoked' }, () => `revoked firmware ${version} of product ${productId}`);
  });

  withApiOptions(
    firmware
      .command('refs')
      .description("set a release's reference boot measurements from a JSON file {events: [{pcr, component, digest}], pcrs?}")
      .argument('<productId>')
      .argument('<version>')
      .argument('<refs.json>'),
  ).action(async (productId: string, version: string, file: string, _opts: unknown, cmd: Command) => {
    const body = parseReferenceValues(file, await readTextFile(resolvePath(ctx.io, file), 'reference values', MAX_REFS_BYTES));
    const client = await ctx.client(cmd);
    const result = await client.put<unknown>(`/products/${enc(productId)}/firmware/${enc(version)}/reference-values`, body);
    ctx.output(cmd).result(result ?? body, () => `set ${body.events.length} reference event(s)${body.pcrs ? ` and ${Object.keys(body.pcrs).length} PCR value(s)` : ''} for ${productId} ${version}`);
  });
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Decimal or 0x-hex byte counts and addresses. */
function byteCount(name: string, max: number) {
  return (raw: string): number => {
    const text = raw.trim().toLowerCase();
    const n = /^0x[0-9a-f]+$/.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number from 0 to 0x${max.toString(16)} (decimal or 0x-hex), got "${raw}"`);
    }
    return n;
  };
}

export interface ReferenceValues {
  events: unknown[];
  pcrs?: Record<string, unknown>;
}

/** `{events, pcrs?}`, or a bare array of events. Deep checks are the service's; this catches the wrong file. */
export function parseReferenceValues(file: string, text: string): ReferenceValues {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw usageError(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(value)) return { events: value };
  const record = value as { events?: unknown; pcrs?: unknown } | null;
  if (!record || typeof record !== 'object' || !Array.isArray(record.events)) {
    throw usageError(`${file} must hold {"events": [{"pcr", "component", "digest"}, ...], "pcrs"?: {...}}`);
  }
  if (record.pcrs !== undefined && (record.pcrs === null || typeof record.pcrs !== 'object' || Array.isArray(record.pcrs))) {
    throw usageError(`${file}: "pcrs" must be an object {"<pcr>": "<hex>"}`);
  }
  return { events: record.events, ...(record.pcrs !== undefined ? { pcrs: record.pcrs as Record<string, unknown> } : {}) };
}

/**
 * A web ReadableStream over the file for fetch's streamed body: pulled chunk by chunk (nothing
 * buffered beyond one chunk), counting bytes as they go. A read error is kept so that the command
 * can name it instead of fetch's generic "fetch failed".
 */
function byteStreamOf(path: string, onChunk: (bytes: number) => void) {
  const iterator = openByteStream(path)[Symbol.asyncIterator]();
  let failure: Error | null = null;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (e) {
          failure = e as Error;
          throw e;
        }
        if (next.done) {
          controller.close();
          return;
        }
        onChunk(next.value.length);
        controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, error: () => failure };
}

function outcomeJson(outcome: VerifyOutcome) {
  return outcome.ok ? { ok: true, ...(outcome.productId ? { productId: outcome.productId } : {}), ...outcome.verdict } : outcome;
}

function renderOutcome(image: string, outcome: VerifyOutcome): string {
  if (!outcome.ok) return `FAILED ${image}: ${outcome.code}: ${outcome.reason}`;
  const v = outcome.verdict;
  const m = v.format === 'mcuboot' ? (v as McubootVerdict) : null;
  const trailer = m?.slotTrailer;
  return [
    `OK ${image}: ${v.format === 'mcuboot' ? 'MCUboot image' : 'image and detached manifest'} verified`,
    renderRecord({
      ...(outcome.productId ? { productId: outcome.productId } : {}),
      version: v.version,
      securityCounter: v.securityCounter,
      digest: v.digest,
      ...(m && m.imageHash !== v.digest ? { imageHash: m.imageHash } : {}),
      ...(v.fileDigest !== v.digest ? { fileDigest: v.fileDigest } : {}),
      size: v.size,
      signerKeyId: v.signerKeyId,
      ...(m ? { signature: m.signature, flags: m.flags.length ? m.flags.join(',') : 'none' } : {}),
      ...(trailer
        ? { slot: `padded to ${v.size} bytes (${trailer.paddedBytes} after the image, erased 0x${trailer.erasedValue.toString(16).padStart(2, '0')}, max-align ${trailer.maxAlign}), ${trailer.confirmed ? 'confirmed (image_ok set)' : 'not confirmed (test)'}` }
        : {}),
    }),
  ].join('\n');
}

function renderInspection(i: Inspection): string {
  if (i.format === 'raw') {
    return `raw image (not MCUboot): sign it with a detached manifest\n${renderRecord({ size: i.size, digest: i.digest })}`;
  }
  if (i.format === 'manifest') return `detached manifest (signature not checked)\n${renderRecord({ header: i.header, payload: i.payload })}`;
  return [
    'MCUboot image (signatures not checked: use firmware verify --pub)',
    renderRecord({
      size: i.size,
      ...i.header,
      securityCounter: i.securityCounter,
      imageHash: i.imageHash,
      hashCheck: i.hashCheck,
      signatures: i.signatures,
      fileDigest: i.fileDigest,
    }),
    renderTable(
      [
        { key: 'area' },
        { key: 'name', header: 'tlv' },
        { key: 'length' },
        { key: 'value', format: (v) => formatCell(v) },
      ],
      i.tlvs,
    ),
  ].join('\n');
}
