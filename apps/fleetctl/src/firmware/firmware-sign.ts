import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { isDomainError } from '@fleetguard/common';
import { FirmwareManifest, McubootImageWriter, McubootVerdict, signingKeyFromKeyObject, signManifest, verifyMcubootStream } from '@fleetguard/firmware';
import { refusedError, usageError } from '../exit-codes';
import { fileSize, openByteStream, writeAtomically } from '../local-files';

export interface SignedManifest {
  readonly jws: string;
  readonly manifest: FirmwareManifest;
  readonly keyId: string;
}

/**
 * Hashes the image as a stream (constant memory) and signs a detached manifest for it:
 * `{productId, version, securityCounter, digest: "sha256:<hex>", size}`, ES256 or EdDSA by key type.
 */
export async function signDetachedManifest(
  imagePath: string,
  privateKey: KeyObject,
  fields: { productId: string; version: string; securityCounter: number },
): Promise<SignedManifest> {
  const keyId = keyIdOf(privateKey);
  const size = await fileSize(imagePath, 'image');
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of openByteStream(imagePath)) {
    hash.update(chunk as Buffer);
    read += (chunk as Buffer).length;
  }
  if (read !== size) throw usageError(`image ${imagePath} changed while it was read (${size} then ${read} bytes)`);
  const manifest: FirmwareManifest = { ...fields, digest: `sha256:${hash.digest('hex')}`, size };
  const jws = await asInputError(() => signManifest(manifest, privateKey, keyId));
  return { jws, manifest, keyId };
}

export interface McubootBuildRequest {
  readonly version: string;
  readonly securityCounter?: number;
  readonly headerSize?: number;
  readonly loadAddress?: number;
}

/**
 * Wraps a raw image as a signed MCUboot image at `outPath` (streamed in and out), then verifies
 * what was written with the matching public key, so a bad output is never left behind.
 */
export async function buildSignedMcuboot(
  imagePath: string,
  outPath: string,
  privateKey: KeyObject,
  request: McubootBuildRequest,
): Promise<McubootVerdict> {
  const size = await fileSize(imagePath, 'image');
  const writer = await asInputError(async () =>
    new McubootImageWriter(
      size,
      {
        version: request.version,
        securityCounter: request.securityCounter ?? null,
        headerSize: request.headerSize,
        loadAddress: request.loadAddress,
      },
      privateKey,
    ),
  );
  const publicKey = signingKeyFromKeyObject(createPublicKey(privateKey));
  let verdict: McubootVerdict | null = null;
  await writeAtomically(outPath, async (tmp) => {
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
    const write = (bytes: Buffer) => (out.write(bytes) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
    try {
      await asInputError(async () => {
        await write(writer.header());
        for await (const chunk of openByteStream(imagePath)) {
          writer.update(chunk as Buffer);
          await write(chunk as Buffer);
        }
        await write(writer.trailer());
      });
      out.end();
      await finished(out);
    } catch (e) {
      out.destroy();
      throw e;
    }
    try {
      verdict = await verifyMcubootStream(openByteStream(tmp), [publicKey]);
    } catch (e) {
      throw refusedError(`the image just written does not verify (${(e as Error).message}); nothing was written`, 'self-check');
    }
  });
  return verdict!;
}

export const keyIdOf = (privateKey: KeyObject) => asInputErrorSync(() => signingKeyFromKeyObject(createPublicKey(privateKey)).keyId);

/** The lib's refusals of what the user gave (a version, a key type) are usage errors here. */
async function asInputError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isDomainError(e)) throw usageError(e.message, e.code);
    throw e;
  }
}

function asInputErrorSync<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (isDomainError(e)) throw usageError(e.message, e.code);
    throw e;
  }
}
