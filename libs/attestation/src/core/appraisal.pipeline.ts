import { X509Certificate } from 'node:crypto';
import { encodeUeidText, isDomainError, ueidCreationProblem } from '@fleetguard/common';
import { normalizeSha256, showDigest, ZERO_PCR } from './digest';
import { BootClaims, EvidenceClaims, FirmwareClaims, parseEvidenceClaims, assertCompactJws, verifyCheckedEvidenceSignature } from './eat-evidence.parser';
import { BootEvent, comparePcrs, PcrValues, replayEventLog } from './event-log.replay';
import { appraiseLinuxEvidence, LinuxAppraisalPorts, LinuxEvidenceSummary } from './linux-evidence.appraisal';
import { ImaDeviceState } from './ima-runtime.policy';
import { decodeNonce } from './nonce';
import { PublicKeyInput, toPublicKey } from './public-key';
import { verifyTpmQuote } from './tpm-quote.verifier';
import type { JwsCrypto } from './jws.pool';
import { AR4SI, degrade, EarStatus, emptyTrustVector, statusOf, TrustClaim, TrustVector } from './trust-vector';

/* ---------------------------------------------------------------- ports */

export type CertificateStatus = 'valid' | 'revoked' | 'expired';
export type NonceState = 'ok' | 'unknown' | 'used' | 'expired';

/** What the verifier knows about the device (from enrollment). */
export interface DeviceAppraisalRecord {
  deviceId: string;
  productId: string;
  /** The enrolled key: SPKI PEM, the device certificate PEM (its validity dates are checked too), or a KeyObject. */
  publicKey: PublicKeyInput;
  certificateStatus: CertificateStatus;
  /** TPM attestation key registered at enrollment, if any. */
  akPublicKey?: PublicKeyInput | null;
  /** Highest firmware security counter this device reported before (anti-rollback), if any. */
  lastSecurityCounter?: number | null;
  /** The RFC 9711 UEID recorded for the device at enrollment, if any. */
  ueid?: Buffer | null;
}

/** Golden boot measurements of a release: the ordered event list, optionally expected PCRs. */
export interface ReferenceValues {
  events: BootEvent[];
  pcrs?: PcrValues;
}

export interface FirmwareReleaseRecord {
  /** SHA-256, bare hex or `sha256:<hex>`. */
  digest: string;
  securityCounter: number;
  status: 'trusted' | 'revoked';
  referenceValues?: ReferenceValues | null;
}

export interface AppraisalPorts extends LinuxAppraisalPorts {
  findDevice(deviceId: string): Promise<DeviceAppraisalRecord | null>;
  /** Atomically marks the nonce used for this device and tells what it was before. */
  consumeNonce(deviceId: string, nonce: string): Promise<NonceState>;
  /**
   * How the nonce stands for this device, WITHOUT using it (the store uses it when the result
   * commits). Given, the pipeline asks it at once, beside the device look-up, for the nonce the
   * payload names, and judges freshness by its answer only after the signature verified and only
   * for the same nonce: freshness then costs no round trip of its own. Absent: consumeNonce(),
   * after the signature.
   */
  peekNonce?(deviceId: string, nonce: string): Promise<NonceState>;
  /**
   * The nonce this very evidence's unverified payload names, when the caller has already read it
   * (unverifiedEvidenceNonce of the same JWS; null: it names none). Given, the pipeline does not
   * decode the payload a second time for peekNonce; nothing read from it is believed either way.
   */
  unverifiedNonce?: string | null;
  findRelease(productId: string, version: string): Promise<FirmwareReleaseRecord | null>;
  /** The product's minimum firmware security counter (anti-rollback floor). */
  minimumSecurityCounter(productId: string): Promise<number>;
  /** Where the evidence signature is checked (the service's worker pool); absent: here, inline. */
  crypto?: JwsCrypto;
}

/* ---------------------------------------------------------------- result */

export type AppraisalStage = 'identity' | 'freshness' | 'firmware' | 'event-log' | 'tpm-quote' | 'reference-values' | 'measured-boot' | 'ima';

export interface AppraisalFinding {
  stage: AppraisalStage;
  /** Stable machine code, e.g. `nonce-used`, `component-digest-mismatch`. */
  code: string;
  claim: TrustClaim;
  value: number;
  message: string;
  /** TCG boot log: the event it is about (index as tpm2_eventlog numbers them). */
  event?: number;
  /** IMA: the entry it is about (position in the device's whole measurement list). */
  entry?: number;
}

export interface AppraisalResult {
  status: EarStatus;
  trustVector: TrustVector;
  /** Plain-word reasons, one per finding, in appraisal order. Empty when everything matched. */
  reasons: string[];
  findings: AppraisalFinding[];
  /** The evidence's eat_nonce, once the evidence is authenticated (echoed in the EAR); else null. */
  nonce: string | null;
  /** Parsed claims once the signature verified (for storage and the dashboard); else null. */
  claims: { fw: FirmwareClaims; boot: BootClaims; tpm: { present: boolean; quotedPcrs?: number[] }; linux?: LinuxEvidenceSummary; identity?: AttesterIdentity } | null;
  firmware: { version: string; securityCounter: number } | null;
  /** PCR values replayed from the event log (null before the event-log stage). */
  replayedPcrs: PcrValues | null;
  /** Linux devices: the running IMA state to keep for this device (the caller stores it). */
  imaState?: ImaDeviceState | null;
}

/** How the evidence named its attester: RFC 9711 UEID / SUEIDs (base64url, as in the EAT) or the device id. */
export interface AttesterIdentity {
  form: 'rfc9711-ueid' | 'device-id';
  ueid?: string;
  sueids?: Record<string, string>;
}

export interface AppraisalInput {
  /** The device the evidence arrived for (MQTT topic id = certificate CN, or the client certificate). */
  deviceId: string;
  /** The EAT, compact JWS. */
  evidence: string;
  now?: Date;
}

/* ---------------------------------------------------------------- pipeline */

class Appraisal {
  readonly vector = emptyTrustVector();
  readonly findings: AppraisalFinding[] = [];
  nonce: string | null = null;
  claims: AppraisalResult['claims'] = null;
  firmware: AppraisalResult['firmware'] = null;
  replayedPcrs: PcrValues | null = null;
  imaState: ImaDeviceState | null = null;

  find(stage: AppraisalStage, code: string, claim: TrustClaim, value: number, message: string, at?: { event?: number; entry?: number }): void {
    this.findings.push({ stage, code, claim, value, message, ...(at?.event !== undefined ? { event: at.event } : {}), ...(at?.entry !== undefined ? { entry: at.entry } : {}) });
    degrade(this.vector, claim, value);
  }
  set(claim: TrustClaim, value: number): void {
    degrade(this.vector, claim, value);
  }
  failedAt(stage: AppraisalStage): boolean {
    return this.findings.some((f) => f.stage === stage);
  }
  result(): AppraisalResult {
    return {
      status: statusOf(this.vector),
      trustVector: { ...this.vector },
      reasons: this.findings.map((f) => f.message),
      findings: [...this.findings],
      nonce: this.nonce,
      claims: this.claims,
      firmware: this.firmware,
      replayedPcrs: this.replayedPcrs,
      ...(this.imaState ? { imaState: this.imaState } : {}),
    };
  }
}

const { instanceIdentity: II, hardware: HW, executables: EX } = AR4SI;

/**
 * Appraises one piece of evidence, in the SPEC's order:
 *   (a) signature with the device key, certificate status, ueid = device;
 *   (b) nonce known, unused, unexpired;
 *   (c) firmware release known, trusted, same digest, not rolled back;
 *   (d) event-log replay equals the reported PCRs;
 *   (e) TPM quote, when present (or expected because the device has an AK);
 *   (f) every event matches the release's reference values.
 * A failure in (a) or (b) stops the appraisal: the claims are not authentic or not fresh, so
 * judging them would only mislead. From (c) on every stage runs (each reads only authenticated
 * claims and trusted records) and all reasons are returned; the vector keeps the worst value.
 * (f) needs the release, so it is skipped when the release is unknown.
 *
 * Throws DomainError only for evidence that is not an EAT at all (not a compact JWS, or claims
 * that fail validation after a good signature): that is a rejected message, not an appraisal.
 * The caller records the last security counter after an affirming result; this function does
 * not write anything except consuming the nonce.
 */
/**
 * The nonce a compact JWS's payload names, read WITHOUT checking its signature (to look it up
 * early; nothing read here is believed). Null when the payload names no nonce string.
 */
export function unverifiedEvidenceNonce(jws: string): string | null {
  const first = jws.indexOf('.');
  const second = jws.indexOf('.', first + 1);
  if (first < 0 || second < 0) return null;
  let nonce: unknown;
  try {
    nonce = (JSON.parse(Buffer.from(jws.slice(first + 1, second), 'base64url').toString('utf8')) as { eat_nonce?: unknown } | null)?.eat_nonce;
  } catch {
    return null;
  }
  return typeof nonce === 'string' && nonce && nonce.length <= 256 ? nonce : null;
}

/**
 * The store's look (no use) at the nonce the unverified payload names. appraiseEvidence takes
 * the answer only for the nonce of the verified claims. A failed look-up is left to whoever
 * awaits it (handled here, so an appraisal that stops earlier leaves no unhandled rejection).
 */
function earlyNonceLookup(deviceId: string, jws: string, known: string | null | undefined, peek: (deviceId: string, nonce: string) => Promise<NonceState>): { nonce: string; state: Promise<NonceState> } | null {
  const nonce = known === undefined ? unverifiedEvidenceNonce(jws) : known;
  if (nonce === null) return null;
  const state = peek(deviceId, nonce);
  state.catch(() => undefined);
  return { nonce, state };
}

export async function appraiseEvidence(input: AppraisalInput, ports: AppraisalPorts): Promise<AppraisalResult> {
  const now = input.now ?? new Date();
  const a = new Appraisal();
  assertCompactJws(input.evidence);

  // (b)'s look-up, started now beside (a)'s when the store can look without using the nonce.
  const early = ports.peekNonce ? earlyNonceLookup(input.deviceId, input.evidence, ports.unverifiedNonce, ports.peekNonce) : null;

  /* (a) identity */
  const device = await ports.findDevice(input.deviceId);
  if (!device) {
    a.find('identity', 'device-unknown', 'instance-identity', II.UNRECOGNIZED, `device '${input.deviceId}' is not enrolled`);
    return a.result();
  }
  const key = toPublicKey(device.publicKey, 'device-key-invalid');
  let payload: unknown;
  try {
    payload = (await verifyCheckedEvidenceSignature(input.evidence, key, ports.crypto)).payload; // checked at the start
  } catch (e) {
    if (!isDomainError(e) || e.code !== 'evidence-signature-invalid') throw e;
    a.find('identity', 'signature-invalid', 'instance-identity', AR4SI.CRYPTO_VALIDATION_FAILED, `${e.message} (enrolled key of device '${device.deviceId}')`);
  }
  const certStatus = certificateStatus(device, now);
  if (certStatus !== 'valid') {
    a.find('identity', `certificate-${certStatus}`, 'instance-identity', II.UNTRUSTWORTHY, `the device certificate is ${certStatus}`);
  }
  if (a.failedAt('identity')) return a.result();

  const claims: EvidenceClaims = parseEvidenceClaims(payload);
  const identity = attesterIdentity(claims, device);
  if (typeof identity === 'string') {
    a.find('identity', 'ueid-mismatch', 'instance-identity', II.UNTRUSTWORTHY, identity);
    return a.result();
  }

  /* (b) freshness */
  const nonceState =
    early && early.nonce === claims.eatNonce && device.deviceId === input.deviceId ? await early.state : await ports.consumeNonce(device.deviceId, claims.eatNonce);
  if (nonceState !== 'ok') {
    const what = { unknown: 'was not issued to this device', used: 'was already used (replayed evidence)', expired: 'has expired' }[nonceState];
    a.find('freshness', `nonce-${nonceState}`, 'instance-identity', AR4SI.CRYPTO_VALIDATION_FAILED, `the evidence nonce ${what}`);
    return a.result();
  }
  a.set('instance-identity', II.TRUSTWORTHY);
  a.nonce = claims.eatNonce;
  a.claims = { fw: claims.fw, boot: claims.boot, tpm: { present: !!claims.tpm }, identity };
  a.firmware = { version: claims.fw.version, securityCounter: claims.fw.securityCounter };

  /* (c) firmware */
  const release = await appraiseFirmware(a, device, claims.fw, ports);

  /* (d)-(f) for a Linux device: TCG boot log + quote, golden state and policy (linux-evidence.appraisal.ts) */
  if (claims.tcgEventLog) {
    const linux = await appraiseLinuxEvidence({ deviceId: device.deviceId, productId: device.productId, version: claims.fw.version, akPublicKey: device.akPublicKey ?? null, claims }, ports);
    for (const f of linux.findings) a.find(f.stage, f.code, f.claim, f.value, f.message, f);
    for (const [claim, value] of linux.sets) a.set(claim, value);
    a.replayedPcrs = linux.replayedSha256;
    a.imaState = linux.imaState;
    if (a.claims) a.claims.linux = linux.summary;
    if (!a.failedAt('firmware')) a.set('hardware', HW.GENUINE);
    return a.result();
  }

  /* (d) event log */
  const replayed = replayEventLog(claims.boot.events);
  a.replayedPcrs = replayed;
  for (const m of comparePcrs(claims.boot.pcrs, replayed)) {
    a.find(
      'event-log',
      'pcr-replay-mismatch',
      'executables',
      EX.CONTRAINDICATED_RUNTIME,
      m.reported === null
        ? `PCR ${m.pcr} is measured by the event log (${showDigest(m.replayed)}) but not reported`
        : `PCR ${m.pcr} is reported as ${showDigest(m.reported)} but the event log replays to ${showDigest(m.replayed)}`,
    );
  }

  /* (e) TPM quote */
  appraiseQuote(a, device, claims, replayed);

  /* (f) reference values */
  if (release) appraiseReferenceValues(a, claims.boot.events, replayed, release.referenceValues ?? null, claims.fw.version);
  else a.find('reference-values', 'reference-values-unavailable', 'executables', AR4SI.NO_CLAIM, 'boot components were not compared with reference values: the firmware release is not known');

  if (!a.failedAt('firmware')) a.set('hardware', HW.GENUINE);
  return a.result();
}

/**
 * The `ueid` must name this device: either the device id (Fleetguard's first form) or, as RFC
 * 9711 writes it, the UEID enrolled for the device, compared as opaque bytes (the RFC's rule for
 * consumers). Returns the identity, or the reason it does not match.
 */
function attesterIdentity(claims: EvidenceClaims, device: DeviceAppraisalRecord): AttesterIdentity | string {
  const sueids = claims.sueids ? { sueids: Object.fromEntries(Object.entries(claims.sueids).map(([k, v]) => [k, encodeUeidText(v)])) } : {};
  if (claims.ueid === device.deviceId) return { form: 'device-id', ...sueids };
  if (claims.ueidBytes && device.ueid && claims.ueidBytes.equals(device.ueid)) return { form: 'rfc9711-ueid', ueid: claims.ueid, ...sueids };
  if (!claims.ueidBytes) return `evidence ueid '${claims.ueid}' is not this device ('${device.deviceId}') and not an RFC 9711 UEID (base64url of 7 to 33 bytes)`;
  const shown = claims.ueidBytes.toString('hex');
  const malformed = ueidCreationProblem(claims.ueidBytes);
  const why = malformed ? ` (and not a well-formed UEID: ${malformed})` : '';
  return device.ueid
    ? `evidence ueid ${shown} is not the UEID enrolled for device '${device.deviceId}' (${device.ueid.toString('hex')})${why}`
    : `evidence ueid ${shown} is an RFC 9711 UEID, but no UEID was enrolled for device '${device.deviceId}' (enroll with ueid, or send the device id)${why}`;
}

function certificateStatus(device: DeviceAppraisalRecord, now: Date): CertificateStatus {
  if (device.certificateStatus !== 'valid') return device.certificateStatus;
  if (typeof device.publicKey === 'string' && device.publicKey.includes('-----BEGIN CERTIFICATE-----')) {
    const cert = new X509Certificate(device.publicKey);
    if (now.getTime() > new Date(cert.validTo).getTime()) return 'expired';
  }
  return 'valid';
}

async function appraiseFirmware(
  a: Appraisal,
  device: DeviceAppraisalRecord,
  fw: FirmwareClaims,
  ports: AppraisalPorts,
): Promise<FirmwareReleaseRecord | null> {
  const minimum = await ports.minimumSecurityCounter(device.productId);
  if (fw.securityCounter < minimum) {
    a.find('firmware', 'rollback-below-product-minimum', 'hardware', HW.CONTRAINDICATED, `firmware ${fw.version} has security counter ${fw.securityCounter}, below the product minimum ${minimum} (rollback)`);
  }
  const last = device.lastSecurityCounter;
  if (last !== null && last !== undefined && fw.securityCounter < last) {
    a.find('firmware', 'rollback-below-device-last-seen', 'hardware', HW.CONTRAINDICATED, `firmware ${fw.version} has security counter ${fw.securityCounter}, below ${last} which this device reported before (rollback)`);
  }
  if (fw.productId !== device.productId) {
    a.find('firmware', 'firmware-product-mismatch', 'hardware', HW.CONTRAINDICATED, `the firmware is for product '${fw.productId}', not the device's product '${device.productId}'`);
    return null;
  }
  const release = await ports.findRelease(device.productId, fw.version);
  if (!release) {
    a.find('firmware', 'firmware-unknown', 'hardware', HW.UNRECOGNIZED, `firmware version ${fw.version} is not a known release of this product`);
    return null;
  }
  if (release.status !== 'trusted') {
    a.find('firmware', 'firmware-revoked', 'hardware', HW.CONTRAINDICATED, `firmware release ${fw.version} is revoked`);
  }
  const releaseDigest = normalizeSha256(release.digest);
  if (releaseDigest !== fw.digest) {
    a.find('firmware', 'firmware-digest-mismatch', 'hardware', HW.CONTRAINDICATED, `firmware ${fw.version} measured ${showDigest(fw.digest)} but the release digest is ${releaseDigest ? showDigest(releaseDigest) : 'unreadable'}`);
  }
  if (release.securityCounter !== fw.securityCounter) {
    a.find('firmware', 'firmware-counter-mismatch', 'hardware', HW.CONTRAINDICATED, `firmware ${fw.version} reports security counter ${fw.securityCounter} but the release has ${release.securityCounter}`);
  }
  return release;
}

function appraiseQuote(a: Appraisal, device: DeviceAppraisalRecord, claims: EvidenceClaims, replayed: PcrValues): void {
  const ak = device.akPublicKey ?? null;
  if (!claims.tpm) {
    if (ak) a.find('tpm-quote', 'tpm-quote-missing', 'hardware', HW.UNSAFE, 'the device has a registered TPM attestation key but sent no TPM quote: its boot measurements are not backed by the TPM');
    return;
  }
  if (!ak) {
    a.find('tpm-quote', 'tpm-ak-unregistered', 'hardware', HW.UNSAFE, 'the evidence carries a TPM quote but the device has no registered attestation key, so the quote cannot be checked');
    return;
  }
  const check = verifyTpmQuote({
    quote: claims.tpm.quote,
    signature: claims.tpm.signature,
    akPublicKey: ak,
    expectedNonce: decodeNonce(claims.eatNonce),
    pcrs: replayed,
    requiredPcrs: claims.boot.events.map((e) => e.pcr).filter((p, i, all) => all.indexOf(p) === i),
  });
  if (a.claims && check.quotedPcrs) a.claims.tpm.quotedPcrs = check.quotedPcrs;
  for (const f of check.failures) {
    if (f.check === 'pcr-digest') a.find('tpm-quote', f.code, 'executables', EX.CONTRAINDICATED_RUNTIME, f.message);
    else if (f.code === 'tpm-pcr-not-quoted') a.find('tpm-quote', f.code, 'hardware', HW.UNSAFE, f.message);
    else a.find('tpm-quote', f.code, 'hardware', AR4SI.CRYPTO_VALIDATION_FAILED, f.message);
  }
}

function appraiseReferenceValues(a: Appraisal, events: BootEvent[], replayed: PcrValues, reference: ReferenceValues | null, version: string): void {
  if (!reference || reference.events.length === 0) {
    a.find('reference-values', 'reference-values-missing', 'executables', EX.UNRECOGNIZED_RUNTIME, `firmware release ${version} has no reference values, so the boot components cannot be recognized`);
    return;
  }
  const ref = reference.events.map((e) => ({ pcr: e.pcr, component: e.component, digest: normalizeSha256(e.digest) ?? '' }));
  const used = new Array<boolean>(ref.length).fill(false);
  let failed = false;
  const lastMatchedInPcr = new Map<number, number>();

  for (const [index, event] of events.entries()) {
    const i = ref.findIndex((r, k) => !used[k] && r.pcr === event.pcr && r.component === event.component);
    if (i < 0) {
      failed = true;
      const elsewhere = ref.find((r) => r.component === event.component && r.pcr !== event.pcr);
      if (elsewhere) {
        a.find('reference-values', 'component-wrong-pcr', 'executables', EX.CONTRAINDICATED_RUNTIME, `component '${event.component}' was measured into PCR ${event.pcr} but the reference value expects it in PCR ${elsewhere.pcr}`, { event: index });
      } else {
        a.find('reference-values', 'component-unknown', 'executables', EX.UNRECOGNIZED_RUNTIME, `component '${event.component}' in PCR ${event.pcr} (${showDigest(event.digest)}) is not in the reference values of release ${version}`, { event: index });
      }
      continue;
    }
    used[i] = true;
    if (ref[i].digest !== event.digest) {
      failed = true;
      a.find('reference-values', 'component-digest-mismatch', 'executables', EX.CONTRAINDICATED_RUNTIME, `component '${event.component}' in PCR ${event.pcr} measured ${showDigest(event.digest)} but the reference value is ${ref[i].digest ? showDigest(ref[i].digest) : 'unreadable'}`, { event: index });
    }
    const previous = lastMatchedInPcr.get(event.pcr);
    if (previous !== undefined && i < previous) {
      failed = true;
      a.find('reference-values', 'component-out-of-order', 'executables', EX.CONTRAINDICATED_RUNTIME, `component '${event.component}' in PCR ${event.pcr} was measured before '${ref[previous].component}', out of the reference order`, { event: index });
    }
    lastMatchedInPcr.set(event.pcr, Math.max(i, previous ?? -1));
  }
  ref.forEach((r, k) => {
    if (used[k]) return;
    if (events.some((e) => e.component === r.component && e.pcr !== r.pcr)) return; // already reported as wrong PCR
    failed = true;
    a.find('reference-values', 'component-missing', 'executables', EX.CONTRAINDICATED_RUNTIME, `component '${r.component}' expected in PCR ${r.pcr} was not measured`);
  });
  for (const [pcr, expected] of Object.entries(reference.pcrs ?? {})) {
    const want = normalizeSha256(expected);
    const got = replayed[pcr] ?? ZERO_PCR;
    if (want !== got) {
      failed = true;
      a.find('reference-values', 'pcr-reference-mismatch', 'executables', EX.CONTRAINDICATED_RUNTIME, `PCR ${pcr} replays to ${showDigest(got)} but the reference value is ${want ? showDigest(want) : 'unreadable'}`);
    }
  }
  if (!failed) a.set('executables', EX.APPROVED_BOOT);
}
