import { createHash, Hash } from 'node:crypto';
import { DomainError, isDomainError } from '@fleetguard/common';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import {
  BOOT_DEFAULT_MAX_ALIGN,
  BOOT_FLAG_SET,
  BOOT_MAGIC,
  BOOT_MAGIC_ALIGNED_SUFFIX,
  BOOT_MAGIC_SIZE,
  BOOT_MAX_ALIGNS,
  IMAGE_F_ENCRYPTED_AES128,
  IMAGE_F_ENCRYPTED_AES256,
  MCUBOOT_HEADER_SIZE,
  MCUBOOT_IMAGE_MAGIC,
  McubootHeader,
  McubootSlotTrailer,
  McubootTlv,
  TLV_HEADER_SIZE,
  TLV_INFO_MAGIC,
  TLV_INFO_SIZE,
  TLV_PROT_INFO_MAGIC,
} from './mcuboot-image.format';

const hex = (n: number, width = 4) => `0x${n.toString(16).padStart(width, '0')}`;

/** Reads the fixed 32-byte header. `bytes` must hold at least 32 bytes (else: truncated). */
export function parseMcubootHeader(bytes: Buffer): McubootHeader {
  if (bytes.length < 4) {
    throw firmwareError(FIRMWARE_ERROR.truncated, `an MCUboot image starts with a 32-byte header, got ${bytes.length} byte(s)`);
  }
  checkMagic(bytes);
  if (bytes.length < MCUBOOT_HEADER_SIZE) {
    throw firmwareError(FIRMWARE_ERROR.truncated, `an MCUboot image starts with a 32-byte header, got ${bytes.length} byte(s)`);
  }
  const header: McubootHeader = {
    loadAddress: bytes.readUInt32LE(4),
    headerSize: bytes.readUInt16LE(8),
    protectedTlvSize: bytes.readUInt16LE(10),
    imageSize: bytes.readUInt32LE(12),
    flags: bytes.readUInt32LE(16),
    version: {
      major: bytes.readUInt8(20),
      minor: bytes.readUInt8(21),
      revision: bytes.readUInt16LE(22),
      build: bytes.readUInt32LE(24),
    },
  };
  if (header.headerSize < MCUBOOT_HEADER_SIZE) {
    throw firmwareError(
      FIRMWARE_ERROR.badHeader,
      `header size ${header.headerSize} is smaller than the 32-byte MCUboot header`,
    );
  }
  if (header.protectedTlvSize > 0 && header.protectedTlvSize < TLV_INFO_SIZE) {
    throw firmwareError(
      FIRMWARE_ERROR.lengthMismatch,
      `protected TLV size ${header.protectedTlvSize} cannot even hold the 4-byte TLV info`,
    );
  }
  if (header.flags & (IMAGE_F_ENCRYPTED_AES128 | IMAGE_F_ENCRYPTED_AES256)) {
    // The hash and signature cover the plaintext; the server does not hold the image key.
    throw firmwareError(
      FIRMWARE_ERROR.encrypted,
      'encrypted MCUboot images cannot be verified here (their hash covers the plaintext): upload the signed, unencrypted image',
      'unsupported',
    );
  }
  return header;
}

/** Checks the first four bytes (the caller guarantees there are four). */
export function checkMagic(bytes: Buffer): void {
  const magic = bytes.readUInt32LE(0);
  if (magic !== MCUBOOT_IMAGE_MAGIC) {
    throw firmwareError(
      FIRMWARE_ERROR.badMagic,
      `not an MCUboot image: magic ${hex(magic, 8)}, expected ${hex(MCUBOOT_IMAGE_MAGIC, 8)}`,
    );
  }
}

/**
 * Parses one TLV area, info included: `area` is exactly the bytes of the area. The info's
 * tlv_tot must equal the area's length and every TLV must end inside it, exactly at its end.
 */
export function parseTlvArea(area: Buffer, expectedMagic: number): McubootTlv[] {
  const label = expectedMagic === TLV_PROT_INFO_MAGIC ? 'protected' : 'unprotected';
  if (area.length < TLV_INFO_SIZE) {
    throw firmwareError(FIRMWARE_ERROR.lengthMismatch, `the ${label} TLV area is ${area.length} bytes, shorter than its info`);
  }
  const magic = area.readUInt16LE(0);
  if (magic !== expectedMagic) {
    throw firmwareError(
      FIRMWARE_ERROR.badTlvMagic,
      `the ${label} TLV area starts with magic ${hex(magic)}, expected ${hex(expectedMagic)}`,
    );
  }
  const total = area.readUInt16LE(2);
  if (total !== area.length) {
    throw firmwareError(
      FIRMWARE_ERROR.lengthMismatch,
      `the ${label} TLV area says it is ${total} bytes long, but the image gives it ${area.length}`,
    );
  }
  const tlvs: McubootTlv[] = [];
  let offset = TLV_INFO_SIZE;
  while (offset < total) {
    if (total - offset < TLV_HEADER_SIZE) {
      throw firmwareError(FIRMWARE_ERROR.lengthMismatch, `a ${label} TLV header at offset ${offset} runs past the end of its area`);
    }
    const type = area.readUInt16LE(offset);
    const length = area.readUInt16LE(offset + 2);
    offset += TLV_HEADER_SIZE;
    if (length > total - offset) {
      throw firmwareError(
        FIRMWARE_ERROR.lengthMismatch,
        `${label} TLV ${hex(type)} says it is ${length} bytes long, but only ${total - offset} remain in its area`,
      );
    }
    tlvs.push({ type, value: area.subarray(offset, offset + length) });
    offset += length;
  }
  return tlvs;
}

export type McubootHashAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface McubootStreamLimits {
  /** Refuse (early, from the header) images whose declared total size exceeds this. */
  readonly maxImageBytes?: number;
  /** Bound on the buffered unprotected TLV area; the format's own bound is 65535. */
  readonly maxTrailerBytes?: number;
  /**
   * Image hashes to compute over header + body + protected TLVs, besides SHA-256 (always: it is
   * the release digest). Each costs one more pass of the hash function over the body, so callers
   * ask only for what their keys can sign with (see `hashesForKeys`).
   */
  readonly hashes?: readonly McubootHashAlgorithm[];
  /**
   * Keep the signed region (header + body + protected TLVs) when it is at most this many bytes:
   * a pure Ed25519 signature (imgtool `--pure`) is over those bytes themselves, not a hash, and
   * Node verifies Ed25519 over a whole message only. 0 (the default) keeps nothing.
   */
  readonly keepSignedRegionBytes?: number;
  /** The erased value the slot padding must have (imgtool `--erased-val`); by default 0xff or 0x00, read from the padding. */
  readonly erasedValue?: 0xff | 0x00;
}

export const DEFAULT_MAX_TRAILER_BYTES = 64 * 1024;
/** Bytes kept from the end of the slot padding: the image trailer's image_ok and magic lie there. */
const SLOT_TAIL_BYTES = 128;

export interface ParsedMcubootImage {
  readonly header: McubootHeader;
  readonly protectedTlvs: readonly McubootTlv[];
  readonly unprotectedTlvs: readonly McubootTlv[];
  /** SHA-256 of header + body + protected TLV area: what a SHA256 TLV must hold. */
  readonly imageHash: Buffer;
  /** The same region under every algorithm computed (sha256 always). */
  readonly imageHashes: Readonly<Partial<Record<McubootHashAlgorithm, Buffer>>>;
  /** The signed region itself, when asked for and small enough (see `keepSignedRegionBytes`); else null. */
  readonly signedRegion: Buffer | null;
  /** SHA-256 of every byte of the file, trailer and padding included. */
  readonly fileHash: Buffer;
  /** Total bytes (the slot size for a padded image). */
  readonly size: number;
  /** End of the unprotected TLV area: where the image proper ends. */
  readonly imageEnd: number;
  /** The slot padding and trailer after the image (imgtool `--pad`), or null when the file ends at the TLVs. */
  readonly slotTrailer: McubootSlotTrailer | null;
}

/**
 * Reads an MCUboot image as a stream of chunks of any size, in constant memory: the body only
 * passes through the hashes; the header (32 bytes), the protected TLV area and the unprotected
 * TLV area (each at most 64 KiB by the format) and the last 128 bytes of any slot padding are the
 * only bytes kept (plus the signed region when `keepSignedRegionBytes` asks for it).
 *
 * After the unprotected TLV area, the file may go on to the end of its slot as imgtool `--pad`
 * writes it: erased bytes (all 0xff, or all 0x00) and the image trailer (image_ok, magic). Every
 * such byte is checked: a byte that is neither erased nor part of the trailer is trailing data.
 *
 * Fails as early as the bytes allow (bad magic after 4 bytes, oversize after 32, a non-erased
 * padding byte at once), with a DomainError that sticks: later calls rethrow it.
 */
export class McubootStreamParser {
  private readonly hash: Hash = createHash('sha256');
  private readonly extraHashes: Array<[McubootHashAlgorithm, Hash]>;
  private readonly maxImageBytes: number;
  private readonly maxTrailerBytes: number;
  private readonly keepRegionBytes: number;
  private readonly requiredErased: 0xff | 0x00 | undefined;
  private readonly headerBytes = Buffer.alloc(MCUBOOT_HEADER_SIZE);
  private readonly trailerInfo = Buffer.alloc(TLV_INFO_SIZE);
  private offset = 0;
  private header: McubootHeader | null = null;
  /** Offsets, known once the header is read: end of body, end of hashed region, end of image. */
  private bodyEnd = 0;
  private hashEnd = 0;
  private end = -1;
  private protectedArea: Buffer = Buffer.alloc(0);
  private protectedTlvs: McubootTlv[] = [];
  private trailer: Buffer | null = null;
  private imageHashes: Partial<Record<McubootHashAlgorithm, Buffer>> = {};
  private region: Buffer[] | null;
  private erased: number | null = null;
  private tail: Buffer = Buffer.alloc(0);
  private failure: DomainError | null = null;
  private result: ParsedMcubootImage | null = null;

  constructor(limits: McubootStreamLimits = {}) {
    this.maxImageBytes = limits.maxImageBytes ?? Number.POSITIVE_INFINITY;
    this.maxTrailerBytes = Math.min(limits.maxTrailerBytes ?? DEFAULT_MAX_TRAILER_BYTES, 0xffff);
    this.keepRegionBytes = limits.keepSignedRegionBytes ?? 0;
    this.region = this.keepRegionBytes > 0 ? [] : null;
    this.requiredErased = limits.erasedValue;
    const extra = new Set((limits.hashes ?? []).filter((h) => h !== 'sha256'));
    this.extraHashes = [...extra].map((name) => [name, createHash(name)]);
  }

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.offset;
  }

  update(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.result) throw new Error('McubootStreamParser.update() called after finish()');
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      this.consume(bytes);
    } catch (e) {
      if (isDomainError(e)) this.failure = e;
      throw e;
    }
  }

  finish(): ParsedMcubootImage {
    if (this.failure) throw this.failure;
    if (this.result) return this.result;
    try {
      this.result = this.complete();
      return this.result;
    } catch (e) {
      if (isDomainError(e)) this.failure = e;
      throw e;
    }
  }

  private complete(): ParsedMcubootImage {
    if (!this.header || !this.trailer || this.offset < this.end) {
      const expected = this.end >= 0 ? ` of ${this.end}` : this.header ? ` of at least ${this.hashEnd + TLV_INFO_SIZE}` : '';
      throw firmwareError(FIRMWARE_ERROR.truncated, `the image ends after ${this.offset}${expected} bytes`, 'invalid', {
        received: this.offset,
      });
    }
    const unprotectedTlvs = parseTlvArea(this.trailer, TLV_INFO_MAGIC);
    const slotTrailer = this.offset > this.end ? this.readSlotTrailer() : null;
    return {
      header: this.header,
      protectedTlvs: this.protectedTlvs,
      unprotectedTlvs,
      imageHash: this.imageHashes.sha256!,
      imageHashes: this.imageHashes,
      signedRegion: this.region ? Buffer.concat(this.region) : null,
      fileHash: this.hash.digest(),
      size: this.offset,
      imageEnd: this.end,
      slotTrailer,
    };
  }

  /** The last bytes of the padding: the magic last, image_ok before it, everything else erased. */
  private readSlotTrailer(): McubootSlotTrailer {
    const paddedBytes = this.offset - this.end;
    const tail = this.tail;
    const erased = this.erased!;
    if (tail.length < BOOT_MAGIC_SIZE) {
      throw firmwareError(
        FIRMWARE_ERROR.trailingData,
        `${paddedBytes} byte(s) follow the TLV area: too few for an MCUboot image trailer (its magic alone is ${BOOT_MAGIC_SIZE})`,
      );
    }
    const magic = tail.subarray(tail.length - BOOT_MAGIC_SIZE);
    let maxAlign: number;
    if (magic.equals(BOOT_MAGIC)) maxAlign = BOOT_DEFAULT_MAX_ALIGN;
    else if (magic.subarray(2).equals(BOOT_MAGIC_ALIGNED_SUFFIX) && BOOT_MAX_ALIGNS.has(magic.readUInt16LE(0)) && magic.readUInt16LE(0) !== 8) {
      maxAlign = magic.readUInt16LE(0);
    } else {
      throw firmwareError(
        FIRMWARE_ERROR.trailingData,
        `${paddedBytes} byte(s) follow the TLV area but they do not end with an MCUboot image trailer magic (got ${magic.toString('hex')})`,
      );
    }
    const magicAligned = Math.ceil(BOOT_MAGIC_SIZE / maxAlign) * maxAlign;
    const imageOkFromEnd = magicAligned + maxAlign;
    if (paddedBytes < imageOkFromEnd) {
      throw firmwareError(
        FIRMWARE_ERROR.badTrailer,
        `the slot trailer is ${paddedBytes} bytes, shorter than its image_ok and magic fields (${imageOkFromEnd} bytes at max_align ${maxAlign})`,
      );
    }
    const imageOkIndex = tail.length - imageOkFromEnd;
    for (let i = 0; i < tail.length - BOOT_MAGIC_SIZE; i++) {
      if (i === imageOkIndex || tail[i] === erased) continue;
      throw firmwareError(
        FIRMWARE_ERROR.badTrailer,
        `byte ${this.offset - tail.length + i} of the slot trailer is 0x${tail[i].toString(16).padStart(2, '0')}, expected the erased value 0x${erased.toString(16).padStart(2, '0')}`,
      );
    }
    const imageOk = tail[imageOkIndex];
    if (imageOk !== erased && imageOk !== BOOT_FLAG_SET) {
      throw firmwareError(
        FIRMWARE_ERROR.badTrailer,
        `the trailer's image_ok is 0x${imageOk.toString(16).padStart(2, '0')}: neither set (0x01) nor erased`,
      );
    }
    return { paddedBytes, erasedValue: erased as 0xff | 0x00, maxAlign, confirmed: imageOk === BOOT_FLAG_SET };
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const offset = this.offset;
      const available = chunk.length - pos;
      if (!this.header) {
        const take = Math.min(MCUBOOT_HEADER_SIZE - offset, available);
        const slice = chunk.subarray(pos, pos + take);
        slice.copy(this.headerBytes, offset);
        this.hashRegion(slice);
        this.advance(take);
        pos += take;
        if (offset < 4 && this.offset >= 4) checkMagic(this.headerBytes);
        if (this.offset === MCUBOOT_HEADER_SIZE) this.onHeader(parseMcubootHeader(this.headerBytes));
      } else if (offset < this.hashEnd) {
        const take = Math.min(this.hashEnd - offset, available);
        const slice = chunk.subarray(pos, pos + take);
        this.hashRegion(slice);
        if (offset + take > this.bodyEnd) {
          const from = Math.max(offset, this.bodyEnd);
          slice.copy(this.protectedArea, from - this.bodyEnd, from - offset);
        }
        this.advance(take);
        pos += take;
        if (this.offset === this.hashEnd) this.onHashedRegionEnd();
      } else if (!this.trailer) {
        const infoOffset = offset - this.hashEnd;
        const take = Math.min(TLV_INFO_SIZE - infoOffset, available);
        chunk.copy(this.trailerInfo, infoOffset, pos, pos + take);
        this.hash.update(chunk.subarray(pos, pos + take));
        this.advance(take);
        pos += take;
        if (infoOffset + take === TLV_INFO_SIZE) this.onTrailerInfo();
      } else if (offset < this.end) {
        const take = Math.min(this.end - offset, available);
        chunk.copy(this.trailer, offset - this.hashEnd, pos, pos + take);
        this.hash.update(chunk.subarray(pos, pos + take));
        this.advance(take);
        pos += take;
      } else {
        const slice = chunk.subarray(pos);
        this.onPadding(slice);
        this.hash.update(slice);
        this.advance(slice.length);
        this.checkSize(this.offset);
        pos = chunk.length;
      }
    }
  }

  /**
   * Padding after the TLV area: all erased, except the trailer's last bytes (checked at the end).
   * Bytes that leave the kept tail must be erased; the first padding byte fixes the erased value.
   */
  private onPadding(slice: Buffer) {
    if (this.erased === null) {
      const first = slice[0];
      const allowed = this.requiredErased === undefined ? first === 0xff || first === 0x00 : first === this.requiredErased;
      if (!allowed) {
        throw firmwareError(
          FIRMWARE_ERROR.trailingData,
          `the image is ${this.end} bytes by its header and TLV info, but more bytes follow and they are not erased-flash padding ` +
            `(0x${first.toString(16).padStart(2, '0')}; imgtool --pad writes ${this.requiredErased === 0 ? '0x00' : this.requiredErased === 0xff ? '0xff' : '0xff or, with --erased-val 0, 0x00'})`,
        );
      }
      this.erased = first;
    }
    const joined = this.tail.length ? Buffer.concat([this.tail, slice]) : slice;
    const leaving = joined.length - SLOT_TAIL_BYTES;
    for (let i = 0; i < leaving; i++) {
      if (joined[i] !== this.erased) {
        throw firmwareError(
          FIRMWARE_ERROR.trailingData,
          `byte ${this.offset - this.tail.length + i} is 0x${joined[i].toString(16).padStart(2, '0')} in the slot padding after the image, ` +
            `which must be erased (0x${this.erased.toString(16).padStart(2, '0')}) up to the image trailer`,
        );
      }
    }
    this.tail = Buffer.from(leaving > 0 ? joined.subarray(leaving) : joined);
  }

  private hashRegion(slice: Buffer) {
    this.hash.update(slice);
    for (const [, h] of this.extraHashes) h.update(slice);
    if (this.region) {
      if (this.offset + slice.length <= this.keepRegionBytes) this.region.push(Buffer.from(slice));
      else this.region = null;
    }
  }

  private advance(n: number) {
    this.offset += n;
  }

  private onHeader(header: McubootHeader) {
    this.header = header;
    this.bodyEnd = header.headerSize + header.imageSize;
    this.hashEnd = this.bodyEnd + header.protectedTlvSize;
    this.checkSize(this.hashEnd + TLV_INFO_SIZE);
    this.protectedArea = Buffer.alloc(header.protectedTlvSize);
    if (this.offset === this.hashEnd) this.onHashedRegionEnd();
  }

  private onHashedRegionEnd() {
    if (this.protectedArea.length > 0) this.protectedTlvs = parseTlvArea(this.protectedArea, TLV_PROT_INFO_MAGIC);
    this.imageHashes = { sha256: this.hash.copy().digest() };
    for (const [name, h] of this.extraHashes) this.imageHashes[name] = h.digest();
  }

  private onTrailerInfo() {
    const magic = this.trailerInfo.readUInt16LE(0);
    if (magic !== TLV_INFO_MAGIC) {
      const hint = magic === TLV_PROT_INFO_MAGIC ? ' (a protected TLV area the header does not declare)' : '';
      throw firmwareError(
        FIRMWARE_ERROR.badTlvMagic,
        `the unprotected TLV area starts with magic ${hex(magic)}, expected ${hex(TLV_INFO_MAGIC)}${hint}`,
      );
    }
    const total = this.trailerInfo.readUInt16LE(2);
    if (total < TLV_INFO_SIZE) {
      throw firmwareError(FIRMWARE_ERROR.lengthMismatch, `the unprotected TLV area says it is ${total} bytes, less than its own info`);
    }
    if (total > this.maxTrailerBytes) {
      throw firmwareError(
        FIRMWARE_ERROR.tooLarge,
        `the unprotected TLV area is ${total} bytes, above the ${this.maxTrailerBytes}-byte bound`,
        'too-large',
      );
    }
    this.end = this.hashEnd + total;
    this.checkSize(this.end);
    this.trailer = Buffer.alloc(total);
    this.trailerInfo.copy(this.trailer, 0);
  }

  private checkSize(size: number) {
    if (size > this.maxImageBytes) {
      throw firmwareError(
        FIRMWARE_ERROR.tooLarge,
        `the image declares ${size} bytes, above the ${this.maxImageBytes}-byte limit`,
        'too-large',
      );
    }
  }
}
