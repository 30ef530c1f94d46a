import { createHash } from 'node:crypto';
import { isDomainError } from '@fleetguard/common';
import { formatMcubootVersion, McubootStreamParser, McubootTlv, SIGNATURE_TLVS, TLV, tlvName, feedChunks } from '@fleetguard/firmware';
import { refusedError } from '../exit-codes';
import { fileSize, openByteStream, readHead, readTextFile } from '../local-files';
import { hasMcubootMagic } from './firmware-keys';

export interface TlvSummary {
  readonly area: 'protected' | 'unprotected';
  readonly type: number;
  readonly name: string;
  readonly length: number;
  /** Hex for hashes and key hashes, the number for SEC_CNT, omitted for signatures and keys. */
  readonly value?: string | number;
}

export type Inspection =
  | {
      readonly format: 'mcuboot';
      readonly size: number;
      readonly header: {
        readonly loadAddress: string;
        readonly headerSize: number;
        readonly protectedTlvSize: number;
        readonly imageSize: number;
        readonly flags: string;
        readonly version: string;
      };
      readonly securityCounter: number | null;
      readonly tlvs: readonly TlvSummary[];
      readonly imageHash: string;
      /** Whether the SHA256 TLV equals the computed image hash. Signatures need keys: `firmware verify`. */
      readonly hashCheck: 'matches' | 'differs' | 'absent';
      readonly signatures: number;
      readonly fileDigest: string;
    }
  | { readonly format: 'manifest'; readonly size: number; readonly header: Record<string, unknown>; readonly payload: unknown }
  | { readonly format: 'raw'; readonly size: number; readonly digest: string };

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Describes an image without trusting it: an MCUboot header and TLV summary, a detached manifest's
 * header and payload (signature not checked), or a raw image's size and SHA-256 (what a manifest
 * must state). A malformed MCUboot image is a failure (exit 1) with the reason.
 */
export async function inspectFirmwareFile(path: string): Promise<Inspection> {
  const size = await fileSize(path, 'image');
  const head = await readHead(path, 'image', 4);
  if (hasMcubootMagic(head)) return inspectMcuboot(path);
  if (size <= 16 * 1024) {
    const text = (await readTextFile(path, 'image')).trim();
    if (COMPACT_JWS.test(text)) return inspectManifest(text, size);
  }
  const hash = createHash('sha256');
  await feedChunks(openByteStream(path), (chunk) => hash.update(chunk));
  return { format: 'raw', size, digest: `sha256:${hash.digest('hex')}` };
}

async function inspectMcuboot(path: string): Promise<Inspection> {
  const parser = new McubootStreamParser();
  let parsed;
  try {
    await feedChunks(openByteStream(path), (chunk) => parser.update(chunk));
    parsed = parser.finish();
  } catch (e) {
    if (isDomainError(e)) throw refusedError(`${e.code}: ${e.message}`, e.code);
    throw e;
  }
  const { header } = parsed;
  const tlvs = [
    ...parsed.protectedTlvs.map((t) => summarise(t, 'protected')),
    ...parsed.unprotectedTlvs.map((t) => summarise(t, 'unprotected')),
  ];
  const hashTlv = parsed.unprotectedTlvs.find((t) => t.type === TLV.SHA256);
  const counter = parsed.protectedTlvs.find((t) => t.type === TLV.SEC_CNT && t.value.length === 4);
  return {
    format: 'mcuboot',
    size: parsed.size,
    header: {
      loadAddress: `0x${header.loadAddress.toString(16).padStart(8, '0')}`,
      headerSize: header.headerSize,
      protectedTlvSize: header.protectedTlvSize,
      imageSize: header.imageSize,
      flags: `0x${header.flags.toString(16).padStart(8, '0')}`,
      version: formatMcubootVersion(header.version),
    },
    securityCounter: counter ? counter.value.readUInt32LE(0) : null,
    tlvs,
    imageHash: `sha256:${parsed.imageHash.toString('hex')}`,
    hashCheck: !hashTlv ? 'absent' : hashTlv.value.equals(parsed.imageHash) ? 'matches' : 'differs',
    signatures: parsed.unprotectedTlvs.filter((t) => SIGNATURE_TLVS.has(t.type)).length,
    fileDigest: `sha256:${parsed.fileHash.toString('hex')}`,
  };
}

function summarise(tlv: McubootTlv, area: TlvSummary['area']): TlvSummary {
  const base = { area, type: tlv.type, name: tlvName(tlv.type), length: tlv.value.length };
  if (tlv.type === TLV.SEC_CNT && tlv.value.length === 4) return { ...base, value: tlv.value.readUInt32LE(0) };
  if (SIGNATURE_TLVS.has(tlv.type) || tlv.type === TLV.PUBKEY) return base;
  return { ...base, value: tlv.value.length > 64 ? `${tlv.value.subarray(0, 64).toString('hex')}…` : tlv.value.toString('hex') };
}

function inspectManifest(jws: string, size: number): Inspection {
  const [h, p] = jws.split('.');
  const decode = (part: string) => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    } catch {
      return null;
    }
  };
  const header = decode(h);
  if (header === null || typeof header !== 'object') throw refusedError('the manifest header is not base64url JSON', 'manifest.malformed');
  return { format: 'manifest', size, header: header as Record<string, unknown>, payload: decode(p) };
}
