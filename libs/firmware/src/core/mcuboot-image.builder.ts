import { createHash, createPublicKey, createSign, Hash, KeyObject, sign, Sign, constants } from 'node:crypto';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import {
  MCUBOOT_HEADER_SIZE,
  MCUBOOT_IMAGE_MAGIC,
  McubootVersion,
  TLV,
  TLV_INFO_MAGIC,
  TLV_PROT_INFO_MAGIC,
} from './mcuboot-image.format';
import { signingKeyFromKeyObject } from './signing-key';

/**
 * Makes signed MCUboot images the way imgtool does (for `fleetctl firmware sign`). The verifier's
 * tests do not rely on it: they check images made by firmware-samples/generate.sh with openssl.
 */
export interface McubootBuildOptions {
  /** `major.minor[.revision[+build]]` or the four numbers. */
  readonly version: McubootVersion | string;
  /** Written as a protected SEC_CNT TLV when given. */
  readonly securityCounter?: number | null;
  readonly loadAddress?: number;
  /** Header size including zero padding, >= 32 (imgtool's --header-size, often 0x200). */
  readonly headerSize?: number;
  readonly flags?: number;
}

const bad = (message: string) => firmwareError(FIRMWARE_ERROR.badBuildInput, message);

function checkRange(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw bad(`${name} must be an integer from 0 to ${max}, got ${value}`);
  return value;
}

export function parseMcubootVersion(text: string): McubootVersion {
  const m = /^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,5}))?(?:\+(\d{1,10}))?$/.exec(text.trim());
  if (!m) throw bad(`version "${text}" is not major.minor[.revision[+build]]`);
  return checkVersion({ major: +m[1], minor: +m[2], revision: m[3] ? +m[3] : 0, build: m[4] ? +m[4] : 0 });
}

function checkVersion(v: McubootVersion): McubootVersion {
  checkRange('version major', v.major, 0xff);
  checkRange('version minor', v.minor, 0xff);
  checkRange('version revision', v.revision, 0xffff);
  checkRange('version build', v.build, 0xffffffff);
  return v;
}

const tlv = (type: number, value: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(type, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value]);
};

function tlvArea(magic: number, tlvs: Buffer[]): Buffer {
  const body = Buffer.concat(tlvs);
  const info = Buffer.alloc(4);
  info.writeUInt16LE(magic, 0);
  info.writeUInt16LE(4 + body.length, 2);
  return Buffer.concat([info, body]);
}

/**
 * Streams an image out: `header()`, then the body through `update()` (exactly `imageSize`
 * bytes), then `trailer()` (protected + unprotected TLV areas). Output = header + body + trailer.
 * ECDSA and RSA-PSS are signed by Node over the same bytes (their SHA-256 is the image hash, so
 * the result is the prehashed signature MCUboot expects); Ed25519 signs the 32-byte hash.
 */
export class McubootImageWriter {
  private readonly hash: Hash;
  private readonly hashTlv: number;
  private readonly signer: Sign | null;
  private readonly signatureType: number;
  private readonly keyHash: Buffer;
  private readonly headerBytes: Buffer;
  private readonly protectedArea: Buffer;
  private written = 0;
  private stage: 'header' | 'body' | 'done' = 'header';

  constructor(
    private readonly imageSize: number,
    options: McubootBuildOptions,
    private readonly privateKey: KeyObject,
  ) {
    checkRange('image size', imageSize, 0xffffffff);
    if (privateKey.type !== 'private') throw bad('signing an MCUboot image needs a private key');
    const key = signingKeyFromKeyObject(createPublicKey(privateKey));
    // imgtool's pairing: P-384 images are hashed (and their KEYHASH made) with SHA-384.
    const hashName = key.algorithm === 'ES384' ? 'sha384' : 'sha256';
    this.hash = createHash(hashName);
    this.hashTlv = key.algorithm === 'ES384' ? TLV.SHA384 : TLV.SHA256;
    if (key.algorithm === 'ES256' || key.algorithm === 'ES384') this.signatureType = TLV.ECDSA_SIG;
    else if (key.algorithm === 'EdDSA') this.signatureType = TLV.ED25519;
    else if (key.modulusBits === 2048) this.signatureType = TLV.RSA2048_PSS;
    else if (key.modulusBits === 3072) this.signatureType = TLV.RSA3072_PSS;
    else throw bad(`MCUboot has no signature type for ${key.modulusBits}-bit RSA keys (2048 or 3072)`);
    // imgtool's KEYHASH: SHA-256 of the SPKI (EC, Ed25519) or of the PKCS#1 key (RSA).
    this.keyHash =
      key.algorithm === 'ES384'
        ? createHash('sha384').update(key.spkiDer).digest()
        : Buffer.from(key.mcubootKeyHashes[key.algorithm === 'RSA-PSS' ? 1 : 0], 'hex');
    this.signer = key.algorithm === 'EdDSA' ? null : createSign(hashName);

    const version = typeof options.version === 'string' ? parseMcubootVersion(options.version) : checkVersion(options.version);
    const headerSize = checkRange('header size', options.headerSize ?? MCUBOOT_HEADER_SIZE, 0xffff);
    if (headerSize < MCUBOOT_HEADER_SIZE) throw bad(`header size must be at least ${MCUBOOT_HEADER_SIZE}`);
    const counter = options.securityCounter;
    const counterValue = Buffer.alloc(4);
    if (counter !== null && counter !== undefined) counterValue.writeUInt32LE(checkRange('security counter', counter, 0xffffffff));
    this.protectedArea =
      counter === null || counter === undefined ? Buffer.alloc(0) : tlvArea(TLV_PROT_INFO_MAGIC, [tlv(TLV.SEC_CNT, counterValue)]);

    const h = Buffer.alloc(headerSize);
    h.writeUInt32LE(MCUBOOT_IMAGE_MAGIC, 0);
    h.writeUInt32LE(checkRange('load address', options.loadAddress ?? 0, 0xffffffff), 4);
    h.writeUInt16LE(headerSize, 8);
    h.writeUInt16LE(this.protectedArea.length, 10);
    h.writeUInt32LE(imageSize, 12);
    h.writeUInt32LE(checkRange('flags', options.flags ?? 0, 0xffffffff), 16);
    h.writeUInt8(version.major, 20);
    h.writeUInt8(version.minor, 21);
    h.writeUInt16LE(version.revision, 22);
    h.writeUInt32LE(version.build, 24);
    this.headerBytes = h;
  }

  header(): Buffer {
    if (this.stage !== 'header') throw new Error('McubootImageWriter.header() must be called once, first');
    this.stage = 'body';
    this.absorb(this.headerBytes);
    return this.headerBytes;
  }

  update(chunk: Uint8Array): void {
    if (this.stage !== 'body') throw new Error('McubootImageWriter.update() must come between header() and trailer()');
    this.written += chunk.byteLength;
    if (this.written > this.imageSize) throw bad(`the body is longer than the declared ${this.imageSize} bytes`);
    this.absorb(chunk);
  }

  trailer(): Buffer {
    if (this.stage !== 'body') throw new Error('McubootImageWriter.trailer() must come after header() and the body');
    if (this.written !== this.imageSize) throw bad(`the body is ${this.written} bytes, ${this.imageSize} were declared`);
    this.stage = 'done';
    this.absorb(this.protectedArea);
    const digest = this.hash.digest();
    let signature: Buffer;
    if (this.signer) {
      const isRsa = this.signatureType === TLV.RSA2048_PSS || this.signatureType === TLV.RSA3072_PSS;
      signature = isRsa
        ? this.signer.sign({ key: this.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : this.signer.sign(this.privateKey);
    } else {
      signature = sign(null, digest, this.privateKey);
    }
    const unprotected = tlvArea(TLV_INFO_MAGIC, [
      tlv(this.hashTlv, digest),
      tlv(TLV.KEYHASH, this.keyHash),
      tlv(this.signatureType, signature),
    ]);
    return Buffer.concat([this.protectedArea, unprotected]);
  }

  private absorb(bytes: Uint8Array) {
    this.hash.update(bytes);
    this.signer?.update(bytes);
  }
}

/** One-shot form for images that fit in memory. */
export function buildMcubootImage(body: Uint8Array, options: McubootBuildOptions, privateKey: KeyObject): Buffer {
  const writer = new McubootImageWriter(body.byteLength, options, privateKey);
  const header = writer.header();
  writer.update(body);
  return Buffer.concat([header, body, writer.trailer()]);
}
