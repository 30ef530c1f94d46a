import MemoryMap from 'nrf-intel-hex';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';

/** Intel HEX texts above this are refused (a HEX file is about 2.8 times its binary). */
export const MAX_INTEL_HEX_CHARS = 64 * 1024 * 1024;

export interface IntelHexImage {
  /** Address of the first byte (imgtool `--hex-addr`, the slot's flash address). */
  readonly baseAddress: number;
  /** The bytes from the lowest to the highest address written, gaps filled with `fill`. */
  readonly bytes: Buffer;
}

/** An Intel HEX file starts with a record mark: ':' (after optional whitespace). */
export function looksLikeIntelHex(head: Uint8Array): boolean {
  for (const byte of head) {
    if (byte === 0x3a) return true;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  }
  return false;
}

/**
 * Reads an Intel HEX file (as imgtool writes with a `.hex` output) into one contiguous image.
 * Records are parsed by `nrf-intel-hex` (Nordic's parser: checksums, extended linear/segment
 * addresses, EOF record). The gaps between blocks are what flashing leaves untouched, erased
 * flash: imgtool `--pad` to a .hex writes only the image and the trailer's magic/image_ok, so
 * the gaps are filled with the erased value (0xff unless `--erased-val 0`).
 */
export function readIntelHex(text: string, options: { fill?: 0xff | 0x00; maxBytes?: number } = {}): IntelHexImage {
  if (text.length > MAX_INTEL_HEX_CHARS) {
    throw firmwareError(FIRMWARE_ERROR.tooLarge, `Intel HEX files are limited to ${MAX_INTEL_HEX_CHARS} characters`, 'too-large');
  }
  let map: MemoryMap;
  try {
    map = MemoryMap.fromHex(text);
  } catch (e) {
    throw firmwareError(FIRMWARE_ERROR.badIntelHex, `not a valid Intel HEX file: ${(e as Error).message}`);
  }
  const blocks = [...map.entries()].filter(([, data]) => data.length > 0).sort(([a], [b]) => a - b);
  if (blocks.length === 0) throw firmwareError(FIRMWARE_ERROR.badIntelHex, 'the Intel HEX file holds no data records');
  const base = blocks[0][0];
  const last = blocks[blocks.length - 1];
  const span = last[0] + last[1].length - base;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  if (span > maxBytes) {
    throw firmwareError(FIRMWARE_ERROR.tooLarge, `the Intel HEX data spans ${span} bytes, above the ${maxBytes}-byte limit`, 'too-large');
  }
  const bytes = Buffer.alloc(span, options.fill ?? 0xff);
  for (const [address, data] of blocks) bytes.set(data, address - base);
  return { baseAddress: base, bytes };
}
