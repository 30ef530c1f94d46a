import { KeyObject, createHash } from 'node:crypto';
import { isDomainError } from '@fleetguard/common';
import { AppraisalFinding, AppraisalStage, CertificateStatus, NonceState } from './appraisal.pipeline';
import { COSE_ERROR } from './cose-sign1.verifier';
import { PublicKeyInput, toPublicKey } from './public-key';
import { lifecycleName, lifecycleSecured, parsePsaToken, PsaClaims, psaClaimsView, PsaSoftwareComponent, PsaToken, verifyPsaToken } from './psa-token.parser';
import { AR4SI, degrade, EarStatus, emptyTrustVector, statusOf, TrustClaim, TrustVector } from './trust-vector';

/**
 * Appraisal of a PSA attestation token (RFC 9783) from a TF-M/MCUboot device, in this order:
 *   (a) identity: the device is enrolled with a valid certificate; its IAK is known (enrolled
 *       `iakPublicKey`, or a CoRIM attest-key triple for the token's implementation id and
 *       instance id); the token verifies with it; the instance id is the device's;
 *   (b) freshness: the token nonce (claim 10) is a challenge issued to this device, unused, unexpired;
 *   (c) hardware: the implementation id is the device's (or one of its product's), the security
 *       lifecycle is `secured`, a boot seed is present;
 *   (d) executables: every software component is compared with the reference values of the
 *       product (CoRIM reference triples for the implementation id, and the MCUboot releases):
 *       measurement value, measurement type, version, signer id; each mismatch is a reason.
 * A failure in (a) or (b) stops the appraisal, as for the EAT: unauthenticated or stale claims
 * are not judged. Throws DomainError only for bytes that are not a PSA token at all.
 *
 * AR4SI values set here:
 *   instance-identity  2 IAK known and bound to the device, signature good, fresh nonce
 *                     96 instance id is not the device's; certificate revoked or expired
 *                     97 device not enrolled, or no IAK known for it
 *                     99 signature does not verify; nonce unknown, used or expired
 *   hardware           2 lifecycle secured, implementation id bound, boot seed present
 *                     32 boot seed missing; implementation id not registered anywhere
 *                     96 lifecycle not secured (debug, provisioning, decommissioned, ...);
 *                        implementation id is another platform's
 *   executables        2 every component matches a trusted reference value
 *                     33 a component no reference value describes; no reference values at all
 *                     96 a component whose digest, type, version or signer differs from its
 *                        reference, or whose release (or signing key) is revoked
 */

export interface PsaIak {
  publicKey: PublicKeyInput;
  /** 33-byte UEID this key attests for; null = derive as TF-M does (0x01 || SHA-256 of the key's raw point). */
  instanceId: Buffer | null;
  implementationId: Buffer | null;
  source: 'enrollment' | 'corim';
}

export interface PsaDeviceRecord {
  deviceId: string;
  productId: string;
  certificateStatus: CertificateStatus;
  /** IAK registered at enrollment, if any. */
  iak: PsaIak | null;
  /** Instance id registered at enrollment without a key (the key then comes from a CoRIM). */
  instanceId: Buffer | null;
  /** Implementation id registered at enrollment, if any. */
  implementationId: Buffer | null;
}

export interface PsaReferenceValue {
  /** Where it comes from, for the reasons: `CoRIM 'acme-rim'`, `MCUboot release 1.2.0`. */
  source: string;
  kind: 'corim' | 'mcuboot';
  implementationId: Buffer | null;
  measurementType: string | null;
  version: string | null;
  /** Accepted signer ids (SHA-256 of the signing key; several forms for RSA). Empty: not checked. */
  signerIds: Buffer[];
  measurementValue: Buffer;
  status: 'trusted' | 'revoked';
  revokedReason?: string | null;
  /** MCUboot releases: the release, to record the device's firmware after an affirming result. */
  release?: { version: string; securityCounter: number };
}

export interface PsaAppraisalPorts {
  findDevice(deviceId: string): Promise<PsaDeviceRecord | null>;
  /** CoRIM attest-key triple of the product for this instance id (and implementation id). */
  findAttestKey(productId: string, implementationId: Buffer, instanceId: Buffer): Promise<PsaIak | null>;
  consumeNonce(deviceId: string, nonce: string): Promise<NonceState>;
  /** Reference values of the product: CoRIM triples for this implementation id, and its MCUboot releases. */
  referenceValues(productId: string, implementationId: Buffer): Promise<PsaReferenceValue[]>;
  /** Implementation ids the product's CoRIMs name (to bind a device enrolled without one). */
  implementationIds(productId: string): Promise<Buffer[]>;
}

export interface PsaAppraisalResult {
  status: EarStatus;
  trustVector: TrustVector;
  reasons: string[];
  findings: AppraisalFinding[];
  /** base64url of the token nonce once the token is authenticated; else null. */
  nonce: string | null;
  claims: (ReturnType<typeof psaClaimsView> & { format: 'psa' }) | null;
  /** The MCUboot release every trusted component match pointed to (for the device record). */
  firmware: { version: string; securityCounter: number } | null;
}

const { instanceIdentity: II, hardware: HW, executables: EX } = AR4SI;

class PsaAppraisal {
  readonly vector = emptyTrustVector();
  readonly findings: AppraisalFinding[] = [];
  nonce: string | null = null;
  claims: PsaAppraisalResult['claims'] = null;
  firmware: PsaAppraisalResult['firmware'] = null;
  find(stage: AppraisalStage, code: string, claim: TrustClaim, value: number, message: string): void {
    this.findings.push({ stage, code, claim, value, message });
    degrade(this.vector, claim, value);
  }
  failed(claim: TrustClaim): boolean {
    return this.findings.some((f) => f.claim === claim);
  }
  result(): PsaAppraisalResult {
    return { status: statusOf(this.vector), trustVector: { ...this.vector }, reasons: this.findings.map((f) => f.message), findings: [...this.findings], nonce: this.nonce, claims: this.claims, firmware: this.firmware };
  }
}

const instanceIds = new WeakMap<KeyObject, Buffer>();

/** TF-M's instance id: UEID type RAND (0x01) followed by SHA-256 of the IAK's uncompressed point. */
export function psaInstanceIdOf(iak: PublicKeyInput): Buffer {
  const key = toPublicKey(iak, 'iak-invalid');
  const known = instanceIds.get(key);
  if (known) return known;
  const jwk = key.export({ format: 'jwk' }) as { x?: string; y?: string };
  if (!jwk.x || !jwk.y) throw new TypeError('the IAK must be an EC key');
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const id = Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(point).digest()]);
  instanceIds.set(key, id);
  return id;
}

const hex = (b: Buffer) => b.toString('hex');
const short = (b: Buffer) => (b.length > 8 ? `${b.subarray(0, 8).toString('hex')}…` : b.toString('hex'));
/** MCUboot versions carry a build number (`1.2.3+0`); TF-M reports `1.2.3`. `+0` is the same version. */
const sameVersion = (a: string, b: string) => a.replace(/\+0$/, '') === b.replace(/\+0$/, '');

export async function appraisePsaToken(input: { deviceId: string; token: Uint8Array }, ports: PsaAppraisalPorts): Promise<PsaAppraisalResult> {
  const token: PsaToken = parsePsaToken(input.token);
  const c: PsaClaims = token.claims;
  const a = new PsaAppraisal();

  /* (a) identity */
  const device = await ports.findDevice(input.deviceId);
  if (!device) {
    a.find('identity', 'device-unknown', 'instance-identity', II.UNRECOGNIZED, `device '${input.deviceId}' is not enrolled`);
    return a.result();
  }
  if (device.certificateStatus !== 'valid') {
    a.find('identity', `certificate-${device.certificateStatus}`, 'instance-identity', II.UNTRUSTWORTHY, `the device certificate is ${device.certificateStatus}`);
    return a.result();
  }
  const iak = device.iak ?? (await ports.findAttestKey(device.productId, c.implementationId, device.instanceId ?? c.instanceId));
  if (!iak) {
    a.find('identity', 'psa-iak-unknown', 'instance-identity', II.UNRECOGNIZED, `no Initial Attestation Key is known for device '${device.deviceId}' (neither enrolled nor in a CoRIM attest-key triple for instance id ${hex(c.instanceId)})`);
    return a.result();
  }
  let key: KeyObject;
  try {
    key = toPublicKey(iak.publicKey, 'iak-invalid');
    verifyPsaToken(token, key);
  } catch (e) {
    if (!isDomainError(e)) throw e;
    const code = e.code === COSE_ERROR.keyMismatch ? 'psa-iak-mismatch' : 'psa-signature-invalid';
    a.find('identity', code, 'instance-identity', AR4SI.CRYPTO_VALIDATION_FAILED, `${e.message} (the ${iak.source === 'enrollment' ? 'enrolled' : 'CoRIM'} IAK of device '${device.deviceId}')`);
    return a.result();
  }
  const expectedInstance = device.instanceId ?? iak.instanceId ?? psaInstanceIdOf(key);
  if (!expectedInstance.equals(c.instanceId)) {
    a.find('identity', 'psa-instance-id-mismatch', 'instance-identity', II.UNTRUSTWORTHY, `token instance id ${hex(c.instanceId)} is not this device's (${hex(expectedInstance)})`);
    return a.result();
  }

  /* (b) freshness */
  const nonce = c.nonce.toString('base64url');
  const state = await ports.consumeNonce(device.deviceId, nonce);
  if (state !== 'ok') {
    const what = { unknown: 'was not issued to this device', used: 'was already used (replayed token)', expired: 'has expired' }[state];
    a.find('freshness', `nonce-${state}`, 'instance-identity', AR4SI.CRYPTO_VALIDATION_FAILED, `the token nonce ${what}`);
    return a.result();
  }
  degrade(a.vector, 'instance-identity', II.TRUSTWORTHY);
  a.nonce = nonce;
  a.claims = { format: 'psa', ...psaClaimsView(c) };

  /* (c) hardware */
  const boundImpl = device.implementationId ?? iak.implementationId;
  if (boundImpl) {
    if (!boundImpl.equals(c.implementationId)) {
      a.find('identity', 'psa-implementation-id-mismatch', 'hardware', HW.CONTRAINDICATED, `token implementation id ${hex(c.implementationId)} is not the device's (${hex(boundImpl)})`);
    }
  } else {
    const known = await ports.implementationIds(device.productId);
    if (known.length === 0) {
      a.find('identity', 'psa-implementation-id-unregistered', 'hardware', HW.UNSAFE, `implementation id ${hex(c.implementationId)} cannot be checked: none is registered for the device or its product`);
    } else if (!known.some((k) => k.equals(c.implementationId))) {
      a.find('identity', 'psa-implementation-id-mismatch', 'hardware', HW.CONTRAINDICATED, `token implementation id ${hex(c.implementationId)} is none of the product's (${known.map(hex).join(', ')})`);
    }
  }
  if (!lifecycleSecured(c.lifecycle)) {
    a.find('firmware', 'psa-lifecycle-not-secured', 'hardware', HW.CONTRAINDICATED, `security lifecycle is ${lifecycleName(c.lifecycle)} (0x${c.lifecycle.toString(16).padStart(4, '0')}), not secured (0x3000..0x30ff)`);
  }
  if (!c.bootSeed) a.find('firmware', 'psa-boot-seed-missing', 'hardware', HW.UNSAFE, 'the token carries no boot seed (2397)');
  if (!a.failed('hardware')) degrade(a.vector, 'hardware', HW.GENUINE);

  /* (d) executables */
  const refs = await ports.referenceValues(device.productId, c.implementationId);
  appraiseComponents(a, c.softwareComponents, refs);
  return a.result();
}

function appraiseComponents(a: PsaAppraisal, components: PsaSoftwareComponent[], refs: PsaReferenceValue[]): void {
  if (refs.length === 0) {
    a.find('reference-values', 'reference-values-missing', 'executables', EX.UNRECOGNIZED_RUNTIME, 'no reference values are known for this product and implementation (no CoRIM, no MCUboot release)');
    return;
  }
  let release: PsaAppraisalResult['firmware'] = null;
  let failed = false;
  components.forEach((sw, i) => {
    const name = `software component ${i}${sw.measurementType ? ` '${sw.measurementType}'` : ''}`;
    const fail = (code: string, value: number, message: string) => {
      failed = true;
      a.find('reference-values', code, 'executables', value, `${name}: ${message}`);
    };
    const sameType = (r: PsaReferenceValue) => r.measurementType === null || sw.measurementType === null || r.measurementType === sw.measurementType;
    const byDigest = refs.filter((r) => r.measurementValue.equals(sw.measurementValue));
    const ref = byDigest.find((r) => sameType(r) && r.status === 'trusted') ?? byDigest.find(sameType) ?? byDigest[0];
    if (!ref) {
      const typed = refs.filter((r) => r.measurementType !== null && r.measurementType === sw.measurementType);
      const bySigner = refs.filter((r) => r.signerIds.some((s) => s.equals(sw.signerId)));
      if (typed.length || bySigner.length) {
        const expected = (typed.length ? typed : bySigner).map((r) => `${short(r.measurementValue)} (${r.source})`).join(', ');
        fail('psa-component-digest-mismatch', EX.CONTRAINDICATED_RUNTIME, `measured ${hex(sw.measurementValue)}, but the reference value is ${expected}`);
      } else {
        fail('psa-component-unknown', EX.UNRECOGNIZED_RUNTIME, `measurement ${hex(sw.measurementValue)} is in no reference value of this product`);
      }
      return;
    }
    if (!sameType(ref)) fail('psa-component-type-mismatch', EX.CONTRAINDICATED_RUNTIME, `its measurement is the reference of '${ref.measurementType}' (${ref.source})`);
    if (ref.version !== null && sw.version !== null && !sameVersion(ref.version, sw.version)) {
      fail('psa-component-version-mismatch', EX.CONTRAINDICATED_RUNTIME, `reports version ${sw.version}, but the reference value (${ref.source}) is version ${ref.version}`);
    }
    if (ref.version !== null && sw.version === null) fail('psa-component-version-missing', EX.UNRECOGNIZED_RUNTIME, `reports no version; the reference value (${ref.source}) is version ${ref.version}`);
    if (ref.signerIds.length && !ref.signerIds.some((s) => s.equals(sw.signerId))) {
      fail('psa-component-signer-mismatch', EX.CONTRAINDICATED_RUNTIME, `signer id ${hex(sw.signerId)} is not the reference signer (${ref.signerIds.map(hex).join(' or ')}, ${ref.source})`);
    }
    if (ref.status === 'revoked') {
      fail('psa-component-revoked', EX.CONTRAINDICATED_RUNTIME, `is ${ref.source}, which is revoked${ref.revokedReason ? ` (${ref.revokedReason})` : ''}`);
    }
    if (ref.release && ref.status === 'trusted') release = ref.release;
  });
  if (!failed) {
    degrade(a.vector, 'executables', EX.APPROVED_RUNTIME);
    a.firmware = release;
  }
}
