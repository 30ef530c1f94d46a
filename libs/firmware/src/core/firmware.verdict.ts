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

export type McubootVerdict = FirmwareVerdict & { readonly format: 'mcuboot' };
export type DetachedVerdict = FirmwareVerdict & { readonly format: 'detached' };

export const sha256Label = (hash: Buffer) => `sha256:${hash.toString('hex')}`;
