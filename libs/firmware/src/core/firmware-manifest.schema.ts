import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';

/** The payload of a detached firmware manifest (a compact JWS, ES256 or EdDSA). */
export interface FirmwareManifest {
  readonly productId: string;
  readonly version: string;
  /** Anti-rollback counter, 0 to 2^32-1 (the range of MCUboot's SEC_CNT). */
  readonly securityCounter: number;
  /** `sha256:<64 lowercase hex>` of the whole image file. */
  readonly digest: string;
  /** Size of the image file in bytes. */
  readonly size: number;
}

const FIELDS = ['productId', 'version', 'securityCounter', 'digest', 'size'] as const;
const PRODUCT_ID = /^[\x21-\x7e]{1,128}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MAX_SECURITY_COUNTER = 0xffffffff;

const bad = (message: string) => firmwareError(FIRMWARE_ERROR.manifestBadPayload, `manifest payload: ${message}`);

/**
 * Validates a manifest payload strictly: exactly the five fields, each of the right type and
 * form. Anything else is a DomainError naming the first problem.
 */
export function parseManifestPayload(value: unknown): FirmwareManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('expected a JSON object');
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra.length) throw bad(`unexpected field(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
  const missing = FIELDS.filter((k) => !Object.prototype.hasOwnProperty.call(record, k));
  if (missing.length) throw bad(`missing field(s) ${missing.join(', ')}`);
  const { productId, version, securityCounter, digest, size } = record;
  if (typeof productId !== 'string' || !PRODUCT_ID.test(productId)) {
    throw bad('productId must be 1 to 128 printable ASCII characters without spaces');
  }
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw bad('version must be 1 to 64 characters of [0-9A-Za-z.+_-], starting with a letter or digit');
  }
  if (typeof securityCounter !== 'number' || !Number.isInteger(securityCounter) || securityCounter < 0 || securityCounter > MAX_SECURITY_COUNTER) {
    throw bad(`securityCounter must be an integer from 0 to ${MAX_SECURITY_COUNTER}`);
  }
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw bad('digest must be "sha256:" and 64 lowercase hex digits');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) throw bad('size must be a positive integer');
  return { productId, version, securityCounter, digest, size };
}
