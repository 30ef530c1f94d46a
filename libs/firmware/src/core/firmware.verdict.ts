import type { McubootSlotTrailer } from './mcuboot-image.format';

/** What a successful verification of a firmware image establishes, whatever its format. */
export interface FirmwareVerdict {
  readonly format: 'mcuboot' | 'detached';
  /** MCUboot: `major.minor.revision+build` from the header; detached: the manifest's version. */
  readonly version: string;
  /** MCUboot: the protected SEC_CNT TLV, null when absent; detached: the manifest's. */
  readonly securityCounter: number | null;
  /**
   * `sha256:<hex>`. MCUboot: the image hash (header + body + protected TLVs, the SHA256 TLV),
   * which is what the bootloader and measured boot report; detached: the hash of the file.
   */
  readonly digest: string;
  /** `sha256:<hex>` of every byte received (equal to `digest` for detached images). */
  readonly fileDigest: string;
  /** Total bytes received. */
  readonly size: number;
  /** Key id (hex SHA-256 of the SPKI DER) of the key whose signature verified. */
  readonly signerKeyId: string;
}

export type McubootVerdict = FirmwareVerdict & {
  readonly format: 'mcuboot';
  /** The image hash by the image's own algorithm, `sha256:`/`sha384:`/`sha512:<hex>` (its hash TLV). */
  readonly imageHash: string;
  /** What verified: `ecdsa-p256-sha256`, `ecdsa-p384-sha384`, `ed25519-sha512`, `ed25519-pure`, `rsa3072-pss-sha256`... */
  readonly signature: string;
  /** Header flags by name (`non-bootable`, `ram-load`, `pic`, `rom-fixed`, `compressed-lzma2`, ...). */
  readonly flags: readonly string[];
  /** Bytes of the image proper (to the end of its TLVs); `size` minus this is slot padding. */
  readonly imageBytes: number;
  /** The slot padding and image trailer (imgtool `--pad`), or null for an unpadded image. */
  readonly slotTrailer: McubootSlotTrailer | null;
};
export type DetachedVerdict = FirmwareVerdict & { readonly format: 'detached' };

export const sha256Label = (hash: Buffer) => `sha256:${hash.toString('hex')}`;
