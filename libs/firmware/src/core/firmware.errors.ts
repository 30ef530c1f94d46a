import { DomainError, DomainErrorKind } from '@fleetguard/common';

/**
 * Every code the firmware core raises, in one place so the edges (HTTP filter, CLI, MQTT) and the
 * tests can rely on them. Codes are stable: add new ones, never rename.
 */
export const FIRMWARE_ERROR = {
  // signing keys
  keyInvalidPem: 'signing-key.invalid-pem',
  keyPrivate: 'signing-key.private-key',
  keyUnsupported: 'signing-key.unsupported-algorithm',
  keyTooWeak: 'signing-key.too-weak',
  // MCUboot images
  badMagic: 'mcuboot.bad-magic',
  truncated: 'mcuboot.truncated',
  badHeader: 'mcuboot.bad-header',
  badTlvMagic: 'mcuboot.bad-tlv-magic',
  lengthMismatch: 'mcuboot.length-mismatch',
  trailingData: 'mcuboot.trailing-data',
  badTrailer: 'mcuboot.bad-trailer',
  badIntelHex: 'mcuboot.bad-intel-hex',
  tooLarge: 'mcuboot.too-large',
  badTlv: 'mcuboot.bad-tlv',
  duplicateTlv: 'mcuboot.duplicate-tlv',
  unprotectedTlv: 'mcuboot.unprotected-tlv',
  missingHash: 'mcuboot.missing-hash',
  unsupportedHash: 'mcuboot.unsupported-hash',
  hashMismatch: 'mcuboot.hash-mismatch',
  noSignature: 'mcuboot.no-signature',
  unknownKey: 'mcuboot.unknown-key',
  unsupportedSignature: 'mcuboot.unsupported-signature',
  badSignature: 'mcuboot.bad-signature',
  encrypted: 'mcuboot.encrypted',
  badBuildInput: 'mcuboot.bad-build-input',
  // detached manifests
  manifestMalformed: 'manifest.malformed',
  manifestTooLarge: 'manifest.too-large',
  manifestUnsupportedAlgorithm: 'manifest.unsupported-algorithm',
  manifestUnknownKey: 'manifest.unknown-key',
  manifestBadSignature: 'manifest.bad-signature',
  manifestBadPayload: 'manifest.bad-payload',
  manifestProductMismatch: 'manifest.product-mismatch',
  manifestDigestMismatch: 'manifest.digest-mismatch',
  manifestSizeMismatch: 'manifest.size-mismatch',
  // release policy (the upload and `fleetctl firmware verify` alike)
  noSecurityCounter: 'firmware.no-security-counter',
  nonBootable: 'firmware.non-bootable',
  rollback: 'firmware.rollback',
  // anti-rollback
  rollbackInvalidCounter: 'rollback.invalid-counter',
} as const;

export type FirmwareErrorCode = (typeof FIRMWARE_ERROR)[keyof typeof FIRMWARE_ERROR];

export function firmwareError(
  code: FirmwareErrorCode,
  message: string,
  kind: DomainErrorKind = 'invalid',
  details?: Record<string, unknown>,
): DomainError {
  return new DomainError(code, message, kind, details);
}
