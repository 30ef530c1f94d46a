/**
 * Test-side reading and re-packing of MCUboot bytes, written apart from the lib's parser so the
 * tests do not check the parser with itself. Only for well-formed sample images.
 */
export interface ImageParts {
  /** header + body + protected TLV area: the signed region. */
  readonly region: Buffer;
  readonly headerSize: number;
  readonly imageSize: number;
  readonly protectedTlvSize: number;
  /** Offsets of fields worth lying about. */
  readonly protectedInfoOffset: number | null;
  readonly unprotectedInfoOffset: number;
  /** Unprotected TLVs in order, with the offset of each TLV's header in the file. */
  readonly tlvs: ReadonlyArray<{ type: number; value: Buffer; offset: number }>;
  /** Offsets of each protected TLV's header. */
  readonly protectedTlvOffsets: readonly number[];
}

export function splitImage(image: Buffer): ImageParts {
  const headerSize = image.readUInt16LE(8);
  const protectedTlvSize = image.readUInt16LE(10);
  const imageSize = image.readUInt32LE(12);
  const bodyEnd = headerSize + imageSize;
  const regionEnd = bodyEnd + protectedTlvSize;
  const protectedTlvOffsets: number[] = [];
  for (let o = bodyEnd + 4; protectedTlvSize > 0 && o < regionEnd; o += 4 + image.readUInt16LE(o + 2)) protectedTlvOffsets.push(o);
  const tlvs: Array<{ type: number; value: Buffer; offset: number }> = [];
  const total = image.readUInt16LE(regionEnd + 2);
  for (let o = regionEnd + 4; o < regionEnd + total; ) {
    const len = image.readUInt16LE(o + 2);
    tlvs.push({ type: image.readUInt16LE(o), value: image.subarray(o + 4, o + 4 + len), offset: o });
    o += 4 + len;
  }
  return {
    region: image.subarray(0, regionEnd),
    headerSize,
    imageSize,
    protectedTlvSize,
    protectedInfoOffset: protectedTlvSize > 0 ? bodyEnd : null,
    unprotectedInfoOffset: regionEnd,
    tlvs,
    protectedTlvOffsets,
  };
}

export function packTlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(type, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value]);
}

/** The signed region followed by a new unprotected area made of `tlvs` (which is unsigned). */
export function withUnprotectedTlvs(region: Buffer, tlvs: ReadonlyArray<{ type: number; value: Buffer }>): Buffer {
  const body = Buffer.concat(tlvs.map((t) => packTlv(t.type, t.value)));
  const info = Buffer.alloc(4);
  info.writeUInt16LE(0x6907, 0);
  info.writeUInt16LE(4 + body.length, 2);
  return Buffer.concat([region, info, body]);
}
