/**
 * AR4SI trustworthiness vector (draft-ietf-rats-ar4si, section "Trustworthiness Claims"), as
 * carried by EAR (draft-ietf-rats-ear) in `ear.trustworthiness-vector`.
 *
 * Tiers of a claim value (AR4SI "Trustworthiness Tiers"):
 *   none             -1 .. 1               (0 no claim, 1 unexpected evidence, -1 verifier malfunction)
 *   affirming         2 .. 31,  -2 .. -32
 *   warning          32 .. 95, -33 .. -96
 *   contraindicated  96 .. 127, -97 .. -128 (99 = cryptographic validation of the evidence failed)
 * `ear.status` is the worst tier in the vector, none < affirming < warning < contraindicated
 * (as Veraison's EAR library does): a vector of only "no claim" has status none.
 *
 * How Fleetguard's appraisal sets the claims (the other four stay 0, "no claim"):
 *   instance-identity  2 signature by the enrolled device key, certificate valid, ueid = device,
 *                        fresh nonce
 *                     96 certificate revoked or expired; ueid is another device
 *                     97 device not known to the verifier
 *                     99 evidence signature does not verify; nonce unknown, used or expired
 *   hardware           2 firmware is a known, trusted release of the device's product, not rolled back
 *                        (and the TPM quote, if any, verifies)
 *                     32 measurements not backed by the TPM: a device with a registered AK sent no
 *                        quote, a quote that does not cover every measured PCR, or a quote from a
 *                        device without a registered AK (cannot be checked)
 *                     96 firmware release revoked, digest or security counter differs from the
 *                        release, rollback below the product minimum or the device's last counter,
 *                        firmware of another product
 *                     97 firmware version is not a known release
 *                     99 TPM quote malformed, not signed by the AK, or over another nonce
 *   executables        0 not appraised: the firmware release is unknown, so there is nothing to compare with
 *                      3 every boot event matches the release's reference values (approved boot:
 *                        the event log measures the boot chain, not the runtime)
 *                     33 a component not in the reference values; or the release has no reference
 *                        values (the boot cannot be recognized)
 *                     96 a component's digest differs, a reference component is missing or out
 *                        of order, an expected PCR value differs, the reported PCRs do not match
 *                        the event-log replay, or the TPM's PCR digest does not match the replay
 */

import type { EarStatus } from '@fleetguard/common';

export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;

export type TrustClaim = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Record<TrustClaim, number>;
/** The EAR status is the kernel's (@fleetguard/common). */
export type { EarStatus };

/** AR4SI claim values used here, by name. */
export const AR4SI = {
  /** Common to every claim. */
  NO_CLAIM: 0,
  UNEXPECTED_EVIDENCE: 1,
  VERIFIER_MALFUNCTION: -1,
  CRYPTO_VALIDATION_FAILED: 99,
  instanceIdentity: { TRUSTWORTHY: 2, UNTRUSTWORTHY: 96, UNRECOGNIZED: 97 },
  configuration: { APPROVED: 2, NO_KNOWN_VULNS: 3, UNSAFE: 32, UNSUPPORTABLE: 96 },
  executables: { APPROVED_RUNTIME: 2, APPROVED_BOOT: 3, UNSAFE_RUNTIME: 32, UNRECOGNIZED_RUNTIME: 33, CONTRAINDICATED_RUNTIME: 96 },
  fileSystem: { APPROVED: 2, UNRECOGNIZED: 32, CONTRAINDICATED: 96 },
  hardware: { GENUINE: 2, UNSAFE: 32, CONTRAINDICATED: 96, UNRECOGNIZED: 97 },
  runtimeOpaque: { ENCRYPTED: 2, ISOLATED: 32, VISIBLE: 96 },
  storageOpaque: { HW_KEYS_ENCRYPTED: 2, SW_KEYS_ENCRYPTED: 32, UNENCRYPTED: 96 },
  sourcedData: { TRUSTED: 2, UNTRUSTED: 32, CONTRAINDICATED: 96 },
} as const;

const TIER_RANK: Record<EarStatus, number> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

export function emptyTrustVector(): TrustVector {
  return Object.fromEntries(TRUST_CLAIMS.map((c) => [c, AR4SI.NO_CLAIM])) as TrustVector;
}

/** The AR4SI tier of one claim value. */
export function tierOf(value: number): EarStatus {
  if (!Number.isInteger(value) || value < -128 || value > 127) throw new RangeError(`AR4SI claim value ${value} is out of range`);
  const v = Math.abs(value);
  if (value >= -1 && value <= 1) return 'none';
  if (value > 0 ? v <= 31 : v <= 32) return 'affirming';
  if (value > 0 ? v <= 95 : v <= 96) return 'warning';
  return 'contraindicated';
}

/** ear.status: the worst tier in the vector. */
export function statusOf(vector: TrustVector): EarStatus {
  let worst: EarStatus = 'none';
  for (const claim of TRUST_CLAIMS) {
    const tier = tierOf(vector[claim]);
    if (TIER_RANK[tier] > TIER_RANK[worst]) worst = tier;
  }
  return worst;
}

/**
 * Sets a claim to `value` unless it already holds a value of a worse (or equal, non-none) tier:
 * the first finding of the worst tier names the claim's value.
 */
export function degrade(vector: TrustVector, claim: TrustClaim, value: number): void {
  const current = vector[claim];
  if (TIER_RANK[tierOf(value)] > TIER_RANK[tierOf(current)] || tierOf(current) === 'none') vector[claim] = value;
}
