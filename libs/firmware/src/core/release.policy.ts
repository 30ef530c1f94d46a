import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import type { FirmwareVerdict } from './firmware.verdict';

export interface ReleasePolicyInput {
  /** The product's minimum security counter (null or absent: none). */
  readonly minSecurityCounter?: number | null;
}

/**
 * What a verified image must also be to become a trusted release. One function, so the upload
 * (`POST /products/:id/firmware`) and `fleetctl firmware verify` refuse the same images:
 *
 * - a security counter (MCUboot: a protected SEC_CNT TLV; imgtool `-s`), else rollback cannot be
 *   checked on the devices;
 * - not below the product's minimum;
 * - not marked non-bootable (imgtool `--non-bootable`, IMAGE_F_NON_BOOTABLE): MCUboot never boots
 *   such an image, so it cannot be the firmware a device runs and reports. It is refused rather
 *   than recorded as a trusted release. `ram-load`, `pic`, `rom-fixed` and compression flags are
 *   shown (verdict `flags`) and accepted; encrypted images were refused by the parser already.
 */
export function checkReleasePolicy(verdict: FirmwareVerdict & { readonly flags?: readonly string[] }, input: ReleasePolicyInput = {}): void {
  if (verdict.flags?.includes('non-bootable')) {
    throw firmwareError(
      FIRMWARE_ERROR.nonBootable,
      'the image is marked non-bootable (IMAGE_F_NON_BOOTABLE, imgtool --non-bootable): MCUboot will not boot it, so it is not accepted as a release',
    );
  }
  if (verdict.securityCounter === null) {
    throw firmwareError(
      FIRMWARE_ERROR.noSecurityCounter,
      'the image carries no security counter (MCUboot SEC_CNT TLV, imgtool -s), so rollback cannot be checked',
    );
  }
  const minimum = input.minSecurityCounter ?? null;
  if (minimum !== null && verdict.securityCounter < minimum) {
    throw firmwareError(FIRMWARE_ERROR.rollback, `security counter ${verdict.securityCounter} is below the product's minimum ${minimum}`);
  }
}
