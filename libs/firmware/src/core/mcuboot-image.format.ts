/**
 * MCUboot image layout (bootutil/image.h), all little-endian:
 *
 *   header (32 bytes, padded with zeros up to hdr_size)
 *     u32 magic 0x96f3b83d, u32 load_addr, u16 hdr_size, u16 protect_tlv_size, u32 img_size,
 *     u32 flags, version {u8 major, u8 minor, u16 revision, u32 build_num}, u32 pad
 *   body: img_size bytes from hdr_size
 *   protected TLV area, when protect_tlv_size > 0: info {u16 0x6908, u16 tlv_tot = protect_tlv_size}
 *   unprotected TLV area: info {u16 0x6907, u16 tlv_tot (including the 4-byte info)}
 *   each TLV: {u16 type, u16 len, len bytes of value}
 *
 * The SHA256 TLV is the SHA-256 of header + body + protected area; signatures are over that hash.
 */
export const MCUBOOT_IMAGE_MAGIC = 0x96f3b83d;
export const MCUBOOT_HEADER_SIZE = 32;
export const TLV_INFO_MAGIC = 0x6907;
export const TLV_PROT_INFO_MAGIC = 0x6908;
export const TLV_INFO_SIZE = 4;
export const TLV_HEADER_SIZE = 4;

export const TLV = {
  KEYHASH: 0x01,
  PUBKEY: 0x02,
  SHA256: 0x10,
  SHA384: 0x11,
  SHA512: 0x12,
  RSA2048_PSS: 0x20,
  ECDSA224: 0x21,
  ECDSA_SIG: 0x22,
  RSA3072_PSS: 0x23,
  ED25519: 0x24,
  SIG_PURE: 0x25,
  ENC_RSA2048: 0x30,
  ENC_KW: 0x31,
  ENC_EC256: 0x32,
  ENC_X25519: 0x33,
  ENC_X25519_SHA512: 0x34,
  DEPENDENCY: 0x40,
  SEC_CNT: 0x50,
  BOOT_RECORD: 0x60,
} as const;

export const TLV_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(TLV).map(([name, type]) => [type, name]),
);

export const tlvName = (type: number) => TLV_NAMES[type] ?? `0x${type.toString(16).padStart(2, '0')}`;

/** Signature TLVs, in or out of what this lib can check. */
export const SIGNATURE_TLVS: ReadonlySet<number> = new Set([
  TLV.RSA2048_PSS,
  TLV.ECDSA224,
  TLV.ECDSA_SIG,
  TLV.RSA3072_PSS,
  TLV.ED25519,
  TLV.SIG_PURE,
]);

/**
 * What may sit in the unprotected (unsigned) area, as MCUboot's own allow-list: hashes, key
 * references, signatures and encryption keys. Anything else there (a SEC_CNT, a DEPENDENCY, a
 * vendor TLV) would be unsigned data pretending to be signed, so the image is refused.
 */
export const UNPROTECTED_ALLOWED_TLVS: ReadonlySet<number> = new Set([
  TLV.KEYHASH,
  TLV.PUBKEY,
  TLV.SHA256,
  TLV.SHA384,
  TLV.SHA512,
  ...SIGNATURE_TLVS,
  TLV.ENC_RSA2048,
  TLV.ENC_KW,
  TLV.ENC_EC256,
  TLV.ENC_X25519,
  TLV.ENC_X25519_SHA512,
]);

/** Header flags: imgtool hashes and signs the plaintext, then encrypts the body. */
export const IMAGE_F_ENCRYPTED_AES128 = 0x04;
export const IMAGE_F_ENCRYPTED_AES256 = 0x08;
export const IMAGE_F_NON_BOOTABLE = 0x10;

/** The header flags bootutil/image.h defines, by the names `fleetctl` and the API show. */
export const IMAGE_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x01, 'pic'],
  [IMAGE_F_ENCRYPTED_AES128, 'encrypted-aes128'],
  [IMAGE_F_ENCRYPTED_AES256, 'encrypted-aes256'],
  [IMAGE_F_NON_BOOTABLE, 'non-bootable'],
  [0x20, 'ram-load'],
  [0x100, 'rom-fixed'],
  [0x200, 'compressed-lzma1'],
  [0x400, 'compressed-lzma2'],
  [0x800, 'compressed-arm-thumb'],
];

/** Names of the set flags; unknown bits as `0x...`. */
export function mcubootFlagNames(flags: number): string[] {
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of IMAGE_FLAG_NAMES) {
    if (rest & bit) names.push(name);
    rest &= ~bit;
  }
  for (let bit = 1; rest !== 0 && bit !== 0; bit = (bit << 1) >>> 0) {
    if (rest & bit) {
      names.push(`0x${bit.toString(16).padStart(8, '0')}`);
      rest = (rest & ~bit) >>> 0;
    }
  }
  return names;
}

/**
 * The image trailer at the end of a slot (MCUboot docs/design.md, "Image Trailer"), as imgtool's
 * `--pad` writes it: erased bytes (swap status, swap size, swap info, copy done), image_ok at
 * `-(align_up(16, max_align) + max_align)` from the end (0x01 with `--confirm`), and the 16-byte
 * magic as the last bytes. With the default max_align of 8 the magic is `BOOT_MAGIC_V2`; for a
 * bigger max_align it is that alignment (u16, little-endian) followed by the 14 bytes below.
 */
export const BOOT_MAGIC = Buffer.from('77c295f360d2ef7f3552500f2cb67980', 'hex');
export const BOOT_MAGIC_ALIGNED_SUFFIX = Buffer.from('2de15d29410b8d77679c110f1f8a', 'hex');
export const BOOT_MAGIC_SIZE = 16;
export const BOOT_DEFAULT_MAX_ALIGN = 8;
/** imgtool's `--max-align` choices. */
export const BOOT_MAX_ALIGNS: ReadonlySet<number> = new Set([8, 16, 32]);
export const BOOT_FLAG_SET = 0x01;

export interface McubootSlotTrailer {
  /** Bytes from the end of the TLV area to the end of the slot (padding and trailer). */
  readonly paddedBytes: number;
  readonly erasedValue: 0xff | 0x00;
  readonly maxAlign: number;
  /** image_ok = 0x01 (imgtool `--confirm`): a permanent upgrade; unset: a test (revertible) one. */
  readonly confirmed: boolean;
}

export interface McubootVersion {
  readonly major: number;
  readonly minor: number;
  readonly revision: number;
  readonly build: number;
}

export interface McubootHeader {
  readonly loadAddress: number;
  readonly headerSize: number;
  readonly protectedTlvSize: number;
  readonly imageSize: number;
  readonly flags: number;
  readonly version: McubootVersion;
}

export interface McubootTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** `major.minor.revision+build`, as imgtool writes versions. */
export const formatMcubootVersion = (v: McubootVersion) => `${v.major}.${v.minor}.${v.revision}+${v.build}`;
