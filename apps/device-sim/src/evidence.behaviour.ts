/**
 * How a simulated device answers a challenge, per behaviour. Each misbehaviour changes exactly one
 * thing, so the verifier's result can be traced to it:
 *
 *   good                the profile's firmware and boot, the received nonce, the enrolled key
 *   tampered-component  one boot component measured with another digest (a consistent event log
 *                       and PCRs, and a TPM that really extended it: only reference values differ)
 *   wrong-nonce         a random nonce instead of the received one (quote included)
 *   rollback            an older firmware (`profile.rollbackFw`) or the current one with a lower
 *                       security counter
 *   wrong-key           signed with a key that is not the enrolled one
 *   weak-config         good evidence; reports a weak hardening report
 *   silent              never answers challenges over MQTT
 */
import { createHash, KeyObject, randomBytes } from 'node:crypto';
import { BootEvent, decodeNonce } from '@fleetguard/attestation';
import { buildEvidence, type EvidenceSigner } from '@fleetguard/device-kit';
import { DeviceProfile, FirmwareIdentity } from './device-profile.schema';
import type { TpmQuote } from './device-tpm';

export const DEVICE_BEHAVIOURS = ['good', 'tampered-component', 'wrong-nonce', 'rollback', 'wrong-key', 'weak-config', 'silent'] as const;
export type DeviceBehaviour = (typeof DEVICE_BEHAVIOURS)[number];

export function isDeviceBehaviour(value: unknown): value is DeviceBehaviour {
  return typeof value === 'string' && (DEVICE_BEHAVIOURS as readonly string[]).includes(value);
}

/** The digest a tampered component measures to: derived from the genuine one, so it always differs. */
export function tamperedDigest(digest: string): string {
  return createHash('sha256').update(`tampered:${digest.toLowerCase()}`).digest('hex');
}

/**
 * The component a `tampered-component` device runs modified: `preferred` if the boot has it, else
 * the first kernel, else the last event.
 */
export function tamperTarget(events: readonly BootEvent[], preferred?: string): number {
  if (events.length === 0) throw new Error('the profile has no boot events to tamper with');
  if (preferred !== undefined) {
    const i = events.findIndex((e) => e.component === preferred);
    if (i < 0) throw new Error(`tamperComponent '${preferred}' is not a boot event of the profile (${events.map((e) => e.component).join(', ')})`);
    return i;
  }
  const kernel = events.findIndex((e) => /kernel/i.test(e.component));
  return kernel >= 0 ? kernel : events.length - 1;
}

/** What the device booted (and extends into its TPM, and reports). */
export function bootEventsFor(behaviour: DeviceBehaviour, profile: DeviceProfile, tamperComponent?: string): BootEvent[] {
  const copy = (events: readonly BootEvent[]) => events.map((e) => ({ pcr: e.pcr, component: e.component, digest: e.digest.toLowerCase() }));
  if (behaviour === 'rollback' && profile.rollbackFw?.events) return copy(profile.rollbackFw.events);
  const events = copy(profile.events);
  if (behaviour === 'tampered-component') {
    const i = tamperTarget(events, tamperComponent);
    events[i] = { ...events[i], digest: tamperedDigest(events[i].digest) };
  }
  return events;
}

/** The firmware the device reports. */
export function firmwareFor(behaviour: DeviceBehaviour, profile: DeviceProfile): FirmwareIdentity {
  if (behaviour !== 'rollback') return { ...profile.fw };
  if (profile.rollbackFw) {
    const { productId, version, digest, securityCounter } = profile.rollbackFw;
    return { productId, version, digest, securityCounter };
  }
  if (profile.fw.securityCounter < 1) {
    throw new Error('behaviour rollback needs profile.rollbackFw or a firmware security counter of at least 1 to lower');
  }
  return { ...profile.fw, securityCounter: profile.fw.securityCounter - 1 };
}

/** A well-formed nonce the verifier never issued (32 random bytes, base64url). */
export function foreignNonce(): string {
  return randomBytes(32).toString('base64url');
}

/** The PCRs a quote covers: every PCR the boot measures, ascending. */
export function measuredPcrs(events: readonly BootEvent[]): number[] {
  return [...new Set(events.map((e) => e.pcr))].sort((a, b) => a - b);
}

export interface BehaviourEvidenceInput {
  behaviour: DeviceBehaviour;
  deviceId: string;
  /** The nonce of the challenge being answered (base64url). */
  nonce: string;
  profile: DeviceProfile;
  /** The enrolled private key. */
  deviceKey: KeyObject;
  /** The key a `wrong-key` device signs with; required for that behaviour. */
  impostorKey?: KeyObject;
  /** What the device booted; defaults to bootEventsFor(behaviour, profile). */
  events?: BootEvent[];
  /** Quotes with the device's TPM, when it has one: (PCRs, nonce bytes) → TPMS_ATTEST + signature. */
  quote?: (pcrs: number[], qualifyingData: Buffer) => Promise<TpmQuote>;
  iat?: number;
  /** The device's RFC 9711 UEID (enrolled): sent as `ueid`, base64url, instead of the device id. */
  ueid?: Buffer;
  /** What signs the evidence (buildEvidence's `signer`); default `jose`. */
  signer?: EvidenceSigner;
}

export interface BehaviourEvidence {
  /** The EAT, compact JWS. */
  evidence: string;
  /** The nonce the evidence carries (differs from the challenge's for `wrong-nonce`). */
  nonce: string;
}

/** Builds the evidence a device with this behaviour sends for a challenge. */
export async function buildBehaviourEvidence(input: BehaviourEvidenceInput): Promise<BehaviourEvidence> {
  const nonce = input.behaviour === 'wrong-nonce' ? foreignNonce() : input.nonce;
  const events = input.events ?? bootEventsFor(input.behaviour, input.profile);
  let signingKey = input.deviceKey;
  if (input.behaviour === 'wrong-key') {
    if (!input.impostorKey) throw new Error('behaviour wrong-key needs an impostor key');
    signingKey = input.impostorKey;
  }
  const tpm = input.quote ? await input.quote(measuredPcrs(events), decodeNonce(nonce)) : undefined;
  const evidence = await buildEvidence({
    deviceKey: signingKey,
    deviceId: input.deviceId,
    nonce,
    fw: firmwareFor(input.behaviour, input.profile),
    events,
    tpm,
    iat: input.iat,
    signer: input.signer,
    ...(input.ueid ? { extraClaims: { ueid: input.ueid.toString('base64url') } } : {}),
  });
  return { evidence, nonce };
}
