/**
 * What a simulated device runs: its firmware identity and its measured boot. The CLI reads it from
 * a JSON file; tests and the demo build it in code.
 */
import { z } from 'zod';
import type { BootEvent } from '@fleetguard/attestation';

export interface FirmwareIdentity {
  productId: string;
  version: string;
  /** `sha256:<hex>` (bare hex is accepted by the verifier too). */
  digest: string;
  securityCounter: number;
}

export interface DeviceProfile {
  fw: FirmwareIdentity;
  /** The measured boot: what the device extends into its PCRs and reports, in order. */
  events: BootEvent[];
  /**
   * An older release the device can be rolled back to (behaviour `rollback`). `events` defaults to
   * the profile's events. Without it, `rollback` reports the current firmware with a lowered
   * security counter.
   */
  rollbackFw?: FirmwareIdentity & { events?: BootEvent[] };
}

const TOKEN = /^[\x21-\x7e]+$/;
const SHA256 = /^(sha256:)?[0-9a-fA-F]{64}$/;

const firmwareSchema = z.strictObject({
  productId: z.string().min(1).max(128).regex(TOKEN, 'must be printable ASCII without spaces'),
  version: z.string().min(1).max(64).regex(TOKEN, 'must be printable ASCII without spaces'),
  digest: z.string().regex(SHA256, 'must be sha256:<64 hex digits>'),
  securityCounter: z.int().min(0).max(0xffffffff),
});

const eventSchema = z.strictObject({
  pcr: z.int().min(0).max(23),
  component: z.string().min(1).max(128).regex(/^[\x20-\x7e]+$/, 'must be printable ASCII'),
  digest: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
});

const eventsSchema = z.array(eventSchema).min(1).max(512);

const profileSchema = z.strictObject({
  fw: firmwareSchema,
  events: eventsSchema,
  rollbackFw: firmwareSchema.extend({ events: eventsSchema.optional() }).strict().optional(),
});

/** Validates a profile (parsed JSON); throws an Error listing the problems in plain words. */
export function parseDeviceProfile(json: unknown): DeviceProfile {
  const parsed = profileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'profile'}: ${i.message}`);
  throw new Error(`invalid device profile: ${problems.join('; ')}`);
}
