import { KeyObject } from 'node:crypto';
import { invalid } from '@fleetguard/common';
import { decodeCbor, expectArray, expectBytes, expectInt, expectMap, expectText } from './cbor.codec';
import { CoseSign1, parseCoseSign1, verifyCoseSign1 } from './cose-sign1.verifier';

/**
 * PSA attestation token (RFC 9783): a COSE_Sign1 whose payload is the CBOR claims map, signed by
 * the Initial Attestation Key. Both profiles are read: RFC 9783's `tag:psacertified.org,2023:psa#tfm`
 * and the older `http://arm.com/psa/2.0.0` (same claim keys; the older one is what TF-M v1.x and
 * Veraison's examples emit).
 */

export const PSA_PROFILES = ['tag:psacertified.org,2023:psa#tfm', 'http://arm.com/psa/2.0.0'] as const;
export type PsaProfile = (typeof PSA_PROFILES)[number];

export const PSA_CLAIM = {
  nonce: 10,
  instanceId: 256,
  profile: 265,
  clientId: 2394,
  lifecycle: 2395,
  implementationId: 2396,
  bootSeed: 2397,
  certificationReference: 2398,
  softwareComponents: 2399,
  verificationService: 2400,
} as const;

const SW = { measurementType: 1, measurementValue: 2, version: 4, signerId: 5, measurementDesc: 6 } as const;

export const PSA_ERROR = {
  /** Not a COSE_Sign1 at all, or its payload is not a claims map. */
  malformed: 'psa-token-malformed',
  /** A mandatory claim is missing, or a claim has the wrong type or size. */
  claimsInvalid: 'psa-claims-invalid',
  /** The profile claim names a profile this verifier does not implement. */
  profileUnsupported: 'psa-profile-unsupported',
} as const;

/** Security lifecycle (PSA Security Model §5.2.1 / RFC 9783 §4.3.1): the major state is the high byte. */
export const PSA_LIFECYCLE = {
  0x0000: 'unknown',
  0x1000: 'assembly-and-test',
  0x2000: 'psa-rot-provisioning',
  0x3000: 'secured',
  0x4000: 'non-psa-rot-debug',
  0x5000: 'recoverable-psa-rot-debug',
  0x6000: 'decommissioned',
} as const;

export function lifecycleName(value: number): string {
  const major = value & 0xff00;
  return (PSA_LIFECYCLE as Record<number, string>)[major] ?? `invalid (0x${value.toString(16).padStart(4, '0')})`;
}

export function lifecycleSecured(value: number): boolean {
  return value >= 0x3000 && value <= 0x30ff;
}

export interface PsaSoftwareComponent {
  measurementType: string | null;
  measurementValue: Buffer;
  version: string | null;
  signerId: Buffer;
  measurementDesc: string | null;
}

export interface PsaClaims {
  profile: PsaProfile;
  nonce: Buffer;
  instanceId: Buffer;
  implementationId: Buffer;
  clientId: number;
  lifecycle: number;
  bootSeed: Buffer | null;
  certificationReference: string | null;
  softwareComponents: PsaSoftwareComponent[];
  verificationService: string | null;
}

export interface PsaToken {
  cose: CoseSign1;
  claims: PsaClaims;
}

/** Upper bound on a token (TF-M's are under 1 KiB; the MQTT payload limit is 64 KiB). */
export const PSA_TOKEN_MAX_BYTES = 16 * 1024;
const MAX_COMPONENTS = 32;

/** Decodes a token and its claims; the signature is not checked here (see verifyPsaToken). */
export function parsePsaToken(bytes: Uint8Array): PsaToken {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalid(PSA_ERROR.malformed, 'the PSA token is empty');
  if (bytes.length > PSA_TOKEN_MAX_BYTES) throw invalid(PSA_ERROR.malformed, `the PSA token is larger than ${PSA_TOKEN_MAX_BYTES} bytes`);
  let cose: CoseSign1;
  try {
    cose = parseCoseSign1(bytes, 'PSA token');
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'cose-malformed') throw invalid(PSA_ERROR.malformed, err.message ?? 'PSA token is malformed');
    throw e;
  }
  const claims = parsePsaClaims(decodeCbor(cose.payload, { code: PSA_ERROR.malformed, what: 'PSA token payload' }));
  return { cose, claims };
}

/** Checks the token's signature with the IAK (throws cose-signature-invalid / cose-key-mismatch). */
export function verifyPsaToken(token: PsaToken, iak: KeyObject): void {
  verifyCoseSign1(token.cose, iak, 'PSA token');
}

/** Validates a decoded claims map (the payload of the token). */
export function parsePsaClaims(value: unknown): PsaClaims {
  const c = PSA_ERROR.claimsInvalid;
  const m = expectMap(value, PSA_ERROR.malformed, 'PSA token payload');
  const need = (key: number, name: string): unknown => {
    if (!m.has(key)) throw invalid(c, `PSA claim ${name} (${key}) is missing`);
    return m.get(key);
  };
  const opt = (key: number): unknown => m.get(key);

  const profile = expectText(need(PSA_CLAIM.profile, 'profile'), c, 'PSA claim profile (265)');
  if (!(PSA_PROFILES as readonly string[]).includes(profile)) {
    throw invalid(PSA_ERROR.profileUnsupported, `PSA profile '${profile}' is not supported (${PSA_PROFILES.join(', ')})`);
  }
  const nonce = expectBytes(need(PSA_CLAIM.nonce, 'nonce'), c, 'PSA claim nonce (10)', [32, 48, 64]);
  const instanceId = expectBytes(need(PSA_CLAIM.instanceId, 'instance id'), c, 'PSA claim instance id (256)', [33]);
  if (instanceId[0] !== 0x01) throw invalid(c, `PSA claim instance id (256) must be a RAND UEID (type byte 0x01), not type 0x${instanceId[0].toString(16).padStart(2, '0')}`);
  const implementationId = expectBytes(need(PSA_CLAIM.implementationId, 'implementation id'), c, 'PSA claim implementation id (2396)', [32]);
  const clientId = expectInt(need(PSA_CLAIM.clientId, 'client id'), c, 'PSA claim client id (2394)');
  const lifecycle = expectInt(need(PSA_CLAIM.lifecycle, 'security lifecycle'), c, 'PSA claim security lifecycle (2395)');
  if (lifecycle < 0 || lifecycle > 0xffff) throw invalid(c, 'PSA claim security lifecycle (2395) must be a 16-bit value');
  const seed = opt(PSA_CLAIM.bootSeed);
  const bootSeed = seed === undefined ? null : expectBytes(seed, c, 'PSA claim boot seed (2397)', [8, 16, 24, 32]);
  const cert = opt(PSA_CLAIM.certificationReference);
  const certificationReference = cert === undefined ? null : expectText(cert, c, 'PSA claim certification reference (2398)', 64);
  const vsi = opt(PSA_CLAIM.verificationService);
  const verificationService = vsi === undefined ? null : expectText(vsi, c, 'PSA claim verification service (2400)', 512);
  const list = expectArray(need(PSA_CLAIM.softwareComponents, 'software components'), c, 'PSA claim software components (2399)');
  if (list.length === 0) throw invalid(c, 'PSA claim software components (2399) must list at least one component');
  if (list.length > MAX_COMPONENTS) throw invalid(c, `PSA claim software components (2399) lists more than ${MAX_COMPONENTS} components`);
  const softwareComponents = list.map((entry, i) => {
    const where = `PSA software component ${i}`;
    const s = expectMap(entry, c, where);
    if (!s.has(SW.measurementValue)) throw invalid(c, `${where}: measurement value (2) is missing`);
    if (!s.has(SW.signerId)) throw invalid(c, `${where}: signer id (5) is missing`);
    const text = (k: number, name: string) => (s.has(k) ? expectText(s.get(k), c, `${where}: ${name} (${k})`, 256) : null);
    return {
      measurementType: text(SW.measurementType, 'measurement type'),
      measurementValue: expectBytes(s.get(SW.measurementValue), c, `${where}: measurement value (2)`, [32, 48, 64]),
      version: text(SW.version, 'version'),
      signerId: expectBytes(s.get(SW.signerId), c, `${where}: signer id (5)`, [32, 48, 64]),
      measurementDesc: text(SW.measurementDesc, 'measurement description'),
    };
  });
  return { profile: profile as PsaProfile, nonce, instanceId, implementationId, clientId, lifecycle, bootSeed, certificationReference, softwareComponents, verificationService };
}

/** A JSON view of the claims (hex for bytes), for storage, the dashboard and `fleetctl psa inspect`. */
export function psaClaimsView(c: PsaClaims) {
  return {
    profile: c.profile,
    nonce: c.nonce.toString('hex'),
    instanceId: c.instanceId.toString('hex'),
    implementationId: c.implementationId.toString('hex'),
    clientId: c.clientId,
    lifecycle: { value: `0x${c.lifecycle.toString(16).padStart(4, '0')}`, state: lifecycleName(c.lifecycle) },
    bootSeed: c.bootSeed?.toString('hex') ?? null,
    certificationReference: c.certificationReference,
    verificationService: c.verificationService,
    softwareComponents: c.softwareComponents.map((s) => ({
      measurementType: s.measurementType,
      version: s.version,
      signerId: s.signerId.toString('hex'),
      measurementValue: s.measurementValue.toString('hex'),
      measurementDesc: s.measurementDesc,
    })),
  };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A PSA token as it travels in JSON (`{psaToken}`): base64url text, checked and returned as is. */
export function assertPsaTokenText(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || !BASE64URL.test(v)) throw invalid(PSA_ERROR.malformed, 'psaToken must be the base64url (no padding) of a PSA attestation token');
  if (v.length > Math.ceil((PSA_TOKEN_MAX_BYTES * 4) / 3)) throw invalid(PSA_ERROR.malformed, `the PSA token is larger than ${PSA_TOKEN_MAX_BYTES} bytes`);
  return v;
}

/** The token bytes of stored evidence that is a PSA token (base64url, no dots); null for an EAT (compact JWS). */
export function psaTokenOf(evidence: string): Buffer | null {
  return BASE64URL.test(evidence) ? Buffer.from(evidence, 'base64url') : null;
}
