import { createHash, Hash } from 'node:crypto';
import { DomainError, isDomainError } from '@fleetguard/common';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import {
  IMAGE_F_ENCRYPTED_AES128,
  IMAGE_F_ENCRYPTED_AES256,
  MCUBOOT_HEADER_SIZE,
  MCUBOOT_IMAGE_MAGIC,
  McubootHeader,
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

export interface McubootStreamLimits {
  /** Refuse (early, from the header) images whose declared total size exceeds this. */
  readonly maxImageBytes?: number;
  /** Bound on the buffered unprotected TLV area; the format's own bound is 65535. */
  readonly maxTrailerBytes?: number;
}

export const DEFAULT_MAX_TRAILER_BYTES = 64 * 1024;

export interface ParsedMcubootImage {
  readonly header: McubootHeader;
  readonly protectedTlvs: readonly McubootTlv[];
  readonly unprotectedTlvs: readonly McubootTlv[];
  /** SHA-256 of header + body + protected TLV area: what the SHA256 TLV must hold. */
  readonly imageHash: Buffer;
  /** SHA-256 of every byte of the image, trailer included. */
  readonly fileHash: Buffer;
  readonly size: number;
}

/**
 * Reads an MCUboot image as a stream of chunks of any size, in constant memory: the body only
 * passes through the (single) SHA-256; the header (32 bytes), the protected TLV area and the
 * unprotected TLV area (each at most 64 KiB by the format) are the only bytes kept.
 *
 * Fails as early as the bytes allow (bad magic after 4 bytes, oversize after 32, trailing data
 * at once), with a DomainError that sticks: later calls rethrow it.
 */
export class McubootStreamParser {
  private readonly hash: Hash = createHash('sha256');
  private readonly maxImageBytes: number;
  private readonly maxTrailerBytes: number;
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
  private failure: DomainError | null = null;
  private result: ParsedMcubootImage | null = null;

  constructor(limits: McubootStreamLimits = {}) {
    this.maxImageBytes = limits.maxImageBytes ?? Number.POSITIVE_INFINITY;
    this.maxTrailerBytes = Math.min(limits.maxTrailerBytes ?? DEFAULT_MAX_TRAILER_BYTES, 0xffff);
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
    const imageHash = this.hash.copy().digest();
    const fileHash = this.hash.update(this.trailer).digest();
    return {
      header: this.header,
      protectedTlvs: this.protectedTlvs,
      unprotectedTlvs,
      imageHash,
      fileHash,
      size: this.end,
    };
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
        this.hash.update(slice);
        this.advance(take);
        pos += take;
        if (offset < 4 && this.offset >= 4) checkMagic(this.headerBytes);
        if (this.offset === MCUBOOT_HEADER_SIZE) this.onHeader(parseMcubootHeader(this.headerBytes));
      } else if (offset < this.hashEnd) {
        const take = Math.min(this.hashEnd - offset, available);
        const slice = chunk.subarray(pos, pos + take);
        this.hash.update(slice);
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
        this.advance(take);
        pos += take;
        if (infoOffset + take === TLV_INFO_SIZE) this.onTrailerInfo();
      } else if (offset < this.end) {
        const take = Math.min(this.end - offset, available);
        chunk.copy(this.trailer, offset - this.hashEnd, pos, pos + take);
        this.advance(take);
        pos += take;
      } else {
        throw firmwareError(
          FIRMWARE_ERROR.trailingData,
          `the image is ${this.end} bytes by its header and TLV info, but more bytes follow`,
        );
      }
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
