import { isDomainError } from '@fleetguard/common';
import { promises as fs } from 'node:fs';
import { checkReleasePolicy, FirmwareVerdict, looksLikeIntelHex, MAX_INTEL_HEX_CHARS, readIntelHex, verifyMcubootImage, SigningKey, verifyDetachedImageStream, verifyManifest, verifyMcubootStream } from '@fleetguard/firmware';
import { usageError } from '../exit-codes';
import { fileSize, openByteStream, readHead } from '../local-files';
import { hasMcubootMagic } from './firmware-keys';

export interface VerifyRequest {
  readonly imagePath: string;
  readonly keys: readonly SigningKey[];
  /** A detached manifest (compact JWS): the image is then checked against it, whatever its format. */
  readonly manifest?: string;
  /** The product the manifest must be for; by default, the one it names. */
  readonly productId?: string;
  /** The product's minimum security counter: below it is a rollback, a failure. */
  readonly minSecurityCounter?: number;
}

export type VerifyOutcome =
  | { readonly ok: true; readonly verdict: FirmwareVerdict; readonly productId?: string }
  | { readonly ok: false; readonly format: 'mcuboot' | 'detached'; readonly code: string; readonly reason: string };

/**
 * Verifies an image file offline with the given trusted public keys, streaming it (constant
 * memory), exactly as the service does on upload: MCUboot images (binary or Intel HEX) by their
 * TLVs, anything else by its detached manifest, then the same release policy (security counter
 * present and not below --min-counter, not non-bootable). Verification failures are outcomes (`ok: false` with the lib's code and
 * reason); unreadable inputs throw usage errors.
 */
export async function verifyFirmwareFile(request: VerifyRequest): Promise<VerifyOutcome> {
  await fileSize(request.imagePath, 'image');
  const format = request.manifest !== undefined ? 'detached' : 'mcuboot';
  try {
    let verdict: FirmwareVerdict;
    let productId: string | undefined;
    if (request.manifest !== undefined) {
      productId = request.productId ?? claimedProductId(request.manifest);
      const manifest = await verifyManifest(request.manifest, request.keys, productId);
      verdict = await verifyDetachedImageStream(openByteStream(request.imagePath), manifest);
    } else {
      const head = await readHead(request.imagePath, 'image', 4);
      if (looksLikeIntelHex(head)) {
        // imgtool's .hex output: read whole (bounded), verified as the binary it describes, as the upload does.
        const size = await fileSize(request.imagePath, 'image');
        if (size > MAX_INTEL_HEX_CHARS) throw usageError(`${request.imagePath} is an Intel HEX file of ${size} bytes, above the ${MAX_INTEL_HEX_CHARS}-byte limit`);
        const image = readIntelHex(await fs.readFile(request.imagePath, 'latin1'));
        verdict = verifyMcubootImage(image.bytes, request.keys);
      } else if (!hasMcubootMagic(head) && head.length >= 4) {
        return {
          ok: false,
          format,
          code: 'mcuboot.bad-magic',
          reason: `not an MCUboot image (magic 0x${head.readUInt32LE(0).toString(16).padStart(8, '0')}); for any other image pass --manifest <file.jws>`,
        };
      } else {
        verdict = await verifyMcubootStream(openByteStream(request.imagePath), request.keys);
      }
    }
    // The upload's own rules (release.policy.ts): a security counter, not below the minimum, bootable.
    checkReleasePolicy(verdict, { minSecurityCounter: request.minSecurityCounter ?? null });
    return { ok: true, verdict, ...(productId !== undefined ? { productId } : {}) };
  } catch (e) {
    if (isDomainError(e)) return { ok: false, format, code: e.code, reason: e.message };
    throw e;
  }
}

/**
 * The productId a manifest names, read without trusting it: only to check the signature against
 * the product the manifest itself claims when the user gave none. An unreadable payload yields a
 * placeholder, and the lib then names the real problem.
 */
function claimedProductId(jws: string): string {
  try {
    const payload = JSON.parse(Buffer.from(jws.trim().split('.')[1] ?? '', 'base64url').toString('utf8')) as { productId?: unknown };
    if (typeof payload.productId === 'string') return payload.productId;
  } catch {
    // fall through
  }
  return '(unknown)';
}

/** Several --pub files make a trusted key set, as a product with several signing keys. */
export function checkKeySet(keys: readonly SigningKey[]): void {
  if (keys.length === 0) throw usageError('give at least one trusted public key with --pub <pub.pem>');
}
