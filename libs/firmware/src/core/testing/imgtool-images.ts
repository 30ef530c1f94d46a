/**
 * Test images as imgtool makes them, built here from MCUboot's documented format (docs/design.md:
 * image header, TLV areas, image trailer; imgtool's `sign` options) with /usr/bin/openssl as the
 * only signer. Independent of the lib: no import from it, its own constants. Used by the lib's,
 * fleetctl's and the API's tests for padded/confirmed slots, P-384, SHA-512, pure Ed25519,
 * header flags and Intel HEX (written by GNU objcopy, not by us).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type TestKeyType = 'p256' | 'p384' | 'ed25519';

export interface TestKey {
  readonly type: TestKeyType;
  readonly privatePath: string;
  readonly publicPath: string;
  readonly publicPem: string;
  /** DER SubjectPublicKeyInfo: what imgtool hashes into KEYHASH for EC and Ed25519 keys. */
  readonly spkiDer: Buffer;
}

const OPENSSL = process.env.OPENSSL ?? '/usr/bin/openssl';
const openssl = (args: string[], input?: Buffer) => execFileSync(OPENSSL, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

export function makeTestDir(prefix = 'fg-imgtool-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function makeTestKey(dir: string, type: TestKeyType, name: string = type): TestKey {
  const privatePath = path.join(dir, `${name}.pem`);
  const publicPath = path.join(dir, `${name}.pub.pem`);
  const gen =
    type === 'ed25519' ? ['-algorithm', 'ED25519'] : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${type === 'p256' ? 'P-256' : 'P-384'}`];
  openssl(['genpkey', ...gen, '-out', privatePath]);
  openssl(['pkey', '-in', privatePath, '-pubout', '-out', publicPath]);
  const spkiDer = openssl(['pkey', '-in', privatePath, '-pubout', '-outform', 'DER']);
  return { type, privatePath, publicPath, publicPem: fs.readFileSync(publicPath, 'utf8'), spkiDer };
}

export interface SlotPadding {
  /** imgtool `--slot-size`: the file is padded to exactly this. */
  readonly slotSize: number;
  /** `--align` (flash write size): 1, 2, 4, 8, 16 or 32. */
  readonly align?: number;
  /** `--max-align`; imgtool's default is max(8, align). */
  readonly maxAlign?: number;
  /** `--erased-val`, 0xff by default. */
  readonly erasedVal?: 0xff | 0x00;
  /** `--confirm`: image_ok = 0x01. Without it (or with `--test`) image_ok stays erased. */
  readonly confirm?: boolean;
  /** `--overwrite-only`: the short trailer (no swap status), image_ok never written. */
  readonly overwriteOnly?: boolean;
  /** `--max-sectors`, 128 by default. */
  readonly maxSectors?: number;
}

export interface TestImageOptions {
  readonly key: TestKey;
  /** imgtool `--sha`: 256 (P-256, Ed25519), 384 (P-384), 512 (Ed25519). Default by the key. */
  readonly sha?: 256 | 384 | 512;
  /** imgtool `--pure`: Ed25519 over the image itself (SIG_PURE TLV). */
  readonly pure?: boolean;
  readonly body?: Buffer;
  readonly version?: readonly [number, number, number, number];
  /** imgtool `-s`; null: no SEC_CNT TLV. */
  readonly securityCounter?: number | null;
  /** Header flags, e.g. 0x10 non-bootable (`--non-bootable`), 0x20 ram-load. */
  readonly flags?: number;
  readonly headerSize?: number;
  readonly loadAddress?: number;
  readonly pad?: SlotPadding;
}

const IMAGE_MAGIC = 0x96f3b83d;
const TLV_INFO = 0x6907;
const TLV_PROT_INFO = 0x6908;
const T = { KEYHASH: 0x01, SHA256: 0x10, SHA384: 0x11, SHA512: 0x12, ECDSA: 0x22, ED25519: 0x24, SIG_PURE: 0x25, SEC_CNT: 0x50 };
const MAGIC_V2 = Buffer.from([0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80]);
const MAGIC_ALIGNED_TAIL = Buffer.from([0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a]);

const tlv = (type: number, value: Buffer) => {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(type, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, value]);
};
const area = (magic: number, tlvs: Buffer[]) => {
  const body = Buffer.concat(tlvs);
  const info = Buffer.alloc(4);
  info.writeUInt16LE(magic, 0);
  info.writeUInt16LE(4 + body.length, 2);
  return Buffer.concat([info, body]);
};
const u32le = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function signWithOpenssl(key: TestKey, message: Buffer, raw: boolean): Buffer {
  const dir = makeTestDir('fg-sig-');
  try {
    const input = path.join(dir, 'in.bin');
    fs.writeFileSync(input, message);
    // EC: pkeyutl signs its input as an already computed digest (MCUboot's prehashed ECDSA).
    // Ed25519: -rawin, the input is the message (here the image hash, or the image for --pure).
    return openssl(['pkeyutl', '-sign', '-inkey', key.privatePath, ...(raw ? ['-rawin'] : []), '-in', input]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The MCUboot image trailer for a slot, as `imgtool sign --pad` lays it out. */
export function slotTrailer(pad: SlotPadding): Buffer {
  const align = pad.align ?? 8;
  const maxAlign = pad.maxAlign ?? Math.max(8, align);
  const erased = pad.erasedVal ?? 0xff;
  const magicArea = alignUp(16, maxAlign);
  const size = pad.overwriteOnly ? maxAlign * 2 + magicArea : (pad.maxSectors ?? 128) * 3 * align + maxAlign * 4 + magicArea;
  const trailer = Buffer.alloc(size, erased);
  let magic = MAGIC_V2;
  if (maxAlign !== 8) {
    const a = Buffer.alloc(2);
    a.writeUInt16LE(maxAlign);
    magic = Buffer.concat([a, MAGIC_ALIGNED_TAIL]);
  }
  magic.copy(trailer, size - 16);
  if (pad.confirm && !pad.overwriteOnly) trailer[size - (magicArea + maxAlign)] = 0x01;
  return trailer;
}

export function makeTestImage(o: TestImageOptions): Buffer {
  const sha = o.sha ?? (o.key.type === 'p384' ? 384 : o.pure ? 512 : 256);
  const hashName = `sha${sha}`;
  const body = o.body ?? Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) & 0xff));
  const headerSize = o.headerSize ?? 0x200;
  const counter = o.securityCounter === undefined ? 7 : o.securityCounter;
  const protectedArea = counter === null ? Buffer.alloc(0) : area(TLV_PROT_INFO, [tlv(T.SEC_CNT, u32le(counter))]);
  const header = Buffer.alloc(headerSize);
  header.writeUInt32LE(IMAGE_MAGIC, 0);
  header.writeUInt32LE(o.loadAddress ?? 0, 4);
  header.writeUInt16LE(headerSize, 8);
  header.writeUInt16LE(protectedArea.length, 10);
  header.writeUInt32LE(body.length, 12);
  header.writeUInt32LE(o.flags ?? 0, 16);
  const [major, minor, revision, build] = o.version ?? [2, 1, 0, 9];
  header.writeUInt8(major, 20);
  header.writeUInt8(minor, 21);
  header.writeUInt16LE(revision, 22);
  header.writeUInt32LE(build, 24);
  const region = Buffer.concat([header, body, protectedArea]);
  const digest = createHash(hashName).update(region).digest();
  const keyHash = createHash(hashName).update(o.key.spkiDer).digest();
  const signature = o.key.type === 'ed25519' ? signWithOpenssl(o.key, o.pure ? region : digest, true) : signWithOpenssl(o.key, digest, false);
  const hashTlv = sha === 256 ? T.SHA256 : sha === 384 ? T.SHA384 : T.SHA512;
  const tlvs = [tlv(hashTlv, digest), ...(o.pure ? [tlv(T.SIG_PURE, Buffer.from([1]))] : []), tlv(T.KEYHASH, keyHash), tlv(o.key.type === 'ed25519' ? T.ED25519 : T.ECDSA, signature)];
  const image = Buffer.concat([region, area(TLV_INFO, tlvs)]);
  if (!o.pad) return image;
  const trailer = slotTrailer(o.pad);
  const padding = o.pad.slotSize - image.length - trailer.length;
  if (padding < 0) throw new Error(`image (${image.length}) + trailer (${trailer.length}) exceed the slot (${o.pad.slotSize})`);
  return Buffer.concat([image, Buffer.alloc(padding, o.pad.erasedVal ?? 0xff), trailer]);
}

/** Offset where the unprotected TLV area ends (the image proper), read from the documented header. */
export function imageEnd(image: Buffer): number {
  const regionEnd = image.readUInt16LE(8) + image.readUInt32LE(12) + image.readUInt16LE(10);
  return regionEnd + image.readUInt16LE(regionEnd + 2);
}

/**
 * Intel HEX of `bytes` at `address`, written by GNU objcopy (binutils). `sparse`: as imgtool
 * writes a padded .hex, only the image and the trailer's last `tailBytes`, the rest left out.
 */
export function toIntelHex(bytes: Buffer, address: number, sparse?: { imageBytes: number; tailBytes: number }): string {
  const dir = makeTestDir('fg-hex-');
  try {
    const hexOf = (data: Buffer, at: number, name: string) => {
      const bin = path.join(dir, `${name}.bin`);
      const hex = path.join(dir, `${name}.hex`);
      fs.writeFileSync(bin, data);
      execFileSync('objcopy', ['-I', 'binary', '-O', 'ihex', '--change-addresses', `0x${at.toString(16)}`, bin, hex]);
      return fs.readFileSync(hex, 'utf8');
    };
    if (!sparse) return hexOf(bytes, address, 'all');
    const head = hexOf(bytes.subarray(0, sparse.imageBytes), address, 'image');
    const tailAt = bytes.length - sparse.tailBytes;
    const tail = hexOf(bytes.subarray(tailAt), address + tailAt, 'tail');
    // Each objcopy file ends with its EOF record: keep only the last one.
    return head.replace(/^:00000001FF\r?\n?/m, '') + tail;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
