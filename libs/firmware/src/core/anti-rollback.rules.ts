import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';

export interface RollbackInput {
  /** Security counter of the firmware the device reports (null: the image carries none). */
  readonly reportedCounter: number | null;
  /** The product's minimum acceptable counter; null or absent: no minimum. */
  readonly productMinimum?: number | null;
  /** The highest counter this device reported before; null or absent: never seen. */
  readonly deviceLastSeen?: number | null;
}

export type RollbackReason = 'below-product-minimum' | 'below-device-last-seen' | 'missing-counter';

export type RollbackResult = { readonly ok: true } | { readonly ok: false; readonly reason: RollbackReason; readonly message: string };

const MAX_COUNTER = 0xffffffff;

function counter(name: string, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_COUNTER) {
    throw firmwareError(FIRMWARE_ERROR.rollbackInvalidCounter, `${name} must be an integer from 0 to ${MAX_COUNTER}, got ${String(value)}`);
  }
  return value;
}

/**
 * The anti-rollback rule of the spec: firmware whose security counter is below the product's
 * minimum, or below what this same device reported before, is a rollback (contraindicated).
 * A firmware without a counter passes only when nothing sets a floor above 0.
 */
export function checkRollback(input: RollbackInput): RollbackResult {
  const reported = counter('reportedCounter', input.reportedCounter);
  const minimum = counter('productMinimum', input.productMinimum);
  const lastSeen = counter('deviceLastSeen', input.deviceLastSeen);
  const floor = Math.max(minimum ?? 0, lastSeen ?? 0);
  if (reported === null) {
    return floor > 0
      ? { ok: false, reason: 'missing-counter', message: `the firmware carries no security counter, and ${floor} is required` }
      : { ok: true };
  }
  if (minimum !== null && reported < minimum) {
    return {
      ok: false,
      reason: 'below-product-minimum',
      message: `security counter ${reported} is below the product minimum ${minimum}`,
    };
  }
  if (lastSeen !== null && reported < lastSeen) {
    return {
      ok: false,
      reason: 'below-device-last-seen',
      message: `security counter ${reported} is below ${lastSeen}, which this device reported before`,
    };
  }
  return { ok: true };
}

/** The counter to remember for a device after a report: it never goes down. */
export function nextDeviceCounter(deviceLastSeen: number | null | undefined, reportedCounter: number | null): number | null {
  const lastSeen = counter('deviceLastSeen', deviceLastSeen);
  const reported = counter('reportedCounter', reportedCounter);
  if (reported === null) return lastSeen;
  return lastSeen === null ? reported : Math.max(lastSeen, reported);
}
