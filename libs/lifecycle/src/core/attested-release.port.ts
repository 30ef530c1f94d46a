/**
 * What the lifecycle needs from attestation: which firmware release each device is PROVED to
 * run (the release of its last affirming attestation result, not what it claims). Attestation
 * provides it; the composition root binds it (apps/fleet-server/src/app.module.ts).
 */
export interface AttestedRelease {
  deviceId: string;
  productId: string;
  version: string;
  manufacturerOrgId: string;
  operatorOrgId: string | null;
}

export interface AttestedReleasePort {
  /** The device's attested release, or null when it has never been affirmed (or is revoked). */
  attestedRelease(deviceId: string): Promise<AttestedRelease | null>;
  /** attestedRelease() for many devices in one query (those with none are left out). */
  attestedReleases(deviceIds: readonly string[]): Promise<AttestedRelease[]>;
  /** Every active device whose attested release is one of these (one query, any fleet size). */
  devicesAttestedOn(releases: Array<{ productId: string; version: string }>): Promise<AttestedRelease[]>;
}

export const ATTESTED_RELEASES = Symbol('ATTESTED_RELEASES');
