import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, importJWK, JWK, jwtVerify } from 'jose';
import { encryptPrivateKeyPem, invalid } from '@fleetguard/common';
import { EarStatus, statusOf, TRUST_CLAIMS, TrustVector } from './trust-vector';
import { jwsSigningInput, signJwsInput } from './jws.compact';
import type { JwsCrypto } from './jws.pool';

/** veraison/ear's EAR profile (its `ear.*` labels), as SPEC first required. */
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
/** draft-ietf-rats-ear-04's profile (its `ear_*` labels): the default form. */
export const EAR_DRAFT_PROFILE = 'tag:ietf.org,2026:rats/ear#04';
export type EarForm = 'draft' | 'veraison';
/** Identifies the appraisal rules of appraisal.pipeline.ts; bump when they change. */
export const FLEETGUARD_APPRAISAL_POLICY_ID = 'urn:fleetguard:attestation:appraisal-policy:v1';
export const EAR_ALG = 'ES256';

export interface VerifierKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 JWK thumbprint of the public key. */
  kid: string;
}

/** `ear.verifier-id` of the EAR draft: who built the verifier and which build it is. */
export interface VerifierId {
  build: string;
  developer: string;
}

export interface EarOptions {
  verifierKey: VerifierKey;
  verifierId: VerifierId;
  /** The evidence's eat_nonce (AppraisalResult.nonce); omitted from the EAR when null. */
  nonce: string | null;
  /** The attester; carried as the JWT `sub`. */
  deviceId: string;
  policyId?: string;
  now?: Date;
  /** `draft` (default): draft-ietf-rats-ear-04 labels; `veraison`: veraison/ear's. */
  form?: EarForm;
  /**
   * The attester's RFC 9711 identity as the evidence gave it and the appraisal matched it
   * (base64url, as in the EAT); carried in the draft form's `ear_verifier_claims`.
   */
  attester?: { ueid?: string; sueids?: Record<string, string> };
  /** Where the signature is made (the service's worker pool); absent: here, inline. */
  crypto?: JwsCrypto;
}

export interface EarSubmod {
  'ear.status': EarStatus;
  'ear.trustworthiness-vector': TrustVector;
  'ear.appraisal-policy-id'?: string;
  reasons: string[];
}

/** A draft-04 appraisal: reasons ride in `ear_verifier_claims`, the draft's map of verifier-authority claims. */
export interface EarDraftSubmod {
  ear_status: EarStatus;
  ear_trustworthiness_vector: TrustVector;
  ear_appraisal_policy_ids: string[];
  /** The nonce of the evidence this appraisal is about (the draft's appraisal-level eat_nonce). */
  eat_nonce?: string;
  ear_verifier_claims: { reasons: string[]; ueid?: string; sueids?: Record<string, string> };
}

export interface EarDraftClaims {
  eat_profile: typeof EAR_DRAFT_PROFILE;
  iat: number;
  sub: string;
  /** The evidence's nonce, echoed at the top level (the draft's freshness claim). */
  eat_nonce?: string;
  ear_verifier_id: VerifierId;
  /** Overall status: here the device's, the only submodule. */
  ear_status: EarStatus;
  submods: { device: EarDraftSubmod };
}

export interface EarClaims {
  eat_profile: typeof EAR_PROFILE;
  iat: number;
  sub: string;
  eat_nonce?: string;
  'ear.verifier-id': VerifierId;
  submods: { device: EarSubmod };
}

/** A fresh ES256 (P-256) verifier key. */
export async function createVerifierKey(): Promise<VerifierKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, kid: await thumbprint(publicKey) };
}

/** Loads a verifier key from PKCS#8 PEM (as `exportVerifierKeyPem` wrote it, possibly encrypted). */
export async function loadVerifierKey(pkcs8Pem: string, passphrase?: string): Promise<VerifierKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(passphrase === undefined ? pkcs8Pem : { key: pkcs8Pem, passphrase });
  } catch {
    throw invalid('verifier-key-invalid', 'verifier key is not a readable PKCS#8 private key');
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalid('verifier-key-invalid', 'verifier key must be an EC P-256 key');
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: await thumbprint(publicKey) };
}

/** PKCS#8 PEM of the verifier key; with a passphrase, PBES2 (PBKDF2-HMAC-SHA256 600,000, AES-256-CBC). */
export function exportVerifierKeyPem(key: VerifierKey, passphrase?: string): string {
  return passphrase === undefined ? key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() : encryptPrivateKeyPem(key.privateKey, passphrase);
}

/** The public JWK published at GET /attestation/verifier-key. */
export async function exportVerifierJwk(key: VerifierKey): Promise<JWK & { kid: string; alg: string; use: string }> {
  const jwk = await exportJWK(key.publicKey);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: key.kid, alg: EAR_ALG, use: 'sig' };
}

/** Signs an appraisal result as an EAR JWT. ear.status is recomputed from the vector. */
export async function signEar(
  result: { trustVector: TrustVector; reasons: string[]; status?: EarStatus },
  options: EarOptions,
): Promise<string> {
  const status = statusOf(result.trustVector);
  if (result.status !== undefined && result.status !== status) {
    throw invalid('ear-status-inconsistent', `status ${result.status} is not the worst tier of the vector (${status})`);
  }
  const vector = Object.fromEntries(TRUST_CLAIMS.map((c) => [c, result.trustVector[c]])) as TrustVector;
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const policyId = options.policyId ?? FLEETGUARD_APPRAISAL_POLICY_ID;
  if ((options.form ?? 'draft') === 'draft') {
    const draft: Record<string, unknown> = {
      eat_profile: EAR_DRAFT_PROFILE,
      ear_verifier_id: { build: options.verifierId.build, developer: options.verifierId.developer },
      ear_status: status,
      submods: {
        device: {
          ear_status: status,
          ear_trustworthiness_vector: vector,
          ear_appraisal_policy_ids: [policyId],
          ...(options.nonce !== null ? { eat_nonce: options.nonce } : {}),
          ear_verifier_claims: {
            reasons: [...result.reasons],
            ...(options.attester?.ueid ? { ueid: options.attester.ueid } : {}),
            ...(options.attester?.sueids ? { sueids: { ...options.attester.sueids } } : {}),
          },
        } satisfies EarDraftSubmod,
      },
    };
    if (options.nonce !== null) draft.eat_nonce = options.nonce;
    return signJwt(draft, iat, options);
  }
  const submod: EarSubmod = {
    'ear.status': status,
    'ear.trustworthiness-vector': vector,
    'ear.appraisal-policy-id': policyId,
    reasons: [...result.reasons],
  };
  const claims: Record<string, unknown> = {
    eat_profile: EAR_PROFILE,
    'ear.verifier-id': { build: options.verifierId.build, developer: options.verifierId.developer },
    submods: { device: submod },
  };
  if (options.nonce !== null) claims.eat_nonce = options.nonce;
  return signJwt(claims, iat, options);
}

/** The EAR as a JWT (RFC 7519): the claims with `iat` and `sub` after them, ES256 over the verifier key. */
async function signJwt(claims: Record<string, unknown>, iat: number, options: EarOptions): Promise<string> {
  const input = jwsSigningInput({ alg: EAR_ALG, typ: 'JWT', kid: options.verifierKey.kid }, { ...claims, iat, sub: options.deviceId });
  const key = options.verifierKey.privateKey;
  const signature = options.crypto ? await options.crypto.sign(input, EAR_ALG, key) : signJwsInput(input, EAR_ALG, key);
  return `${input}.${signature}`;
}

/** The EAR media type of a form (RFC 9782's `application/eat+jwt` with the EAR's `eat_profile`). */
export function earMediaType(form: EarForm): string {
  return `application/eat+jwt; eat_profile="${form === 'draft' ? EAR_DRAFT_PROFILE : EAR_PROFILE}"`;
}

/**
 * The same appraisal in the other form: the stored EAR's claims (the verifier's own token, read
 * back from its database) signed again with their original `iat`, nonce and subject.
 */
export async function reformEar(ear: string, form: EarForm, options: { verifierKey: VerifierKey; verifierId: VerifierId; policyId?: string; crypto?: JwsCrypto }): Promise<string> {
  const claims = decodeJwt(ear) as unknown as EarClaims | EarDraftClaims;
  if ((claims.eat_profile === EAR_DRAFT_PROFILE ? 'draft' : 'veraison') === form) return ear;
  const device = earDeviceAppraisal(claims);
  const draftClaims = claims.eat_profile === EAR_DRAFT_PROFILE ? (claims as EarDraftClaims).submods.device.ear_verifier_claims : undefined;
  return signEar(
    { trustVector: device.trustVector, reasons: device.reasons },
    {
      verifierKey: options.verifierKey,
      verifierId: options.verifierId,
      nonce: typeof claims.eat_nonce === 'string' ? claims.eat_nonce : null,
      deviceId: claims.sub,
      now: new Date(claims.iat * 1000),
      form,
      ...(options.crypto ? { crypto: options.crypto } : {}),
      ...(options.policyId ? { policyId: options.policyId } : {}),
      ...(draftClaims?.ueid || draftClaims?.sueids ? { attester: { ueid: draftClaims.ueid, sueids: draftClaims.sueids } } : {}),
    },
  );
}

/** Verifies an EAR with the verifier's published JWK (for devices, the simulator, tests). */
export async function verifyEar(ear: string, verifierJwk: JWK): Promise<EarClaims | EarDraftClaims> {
  const key = await importJWK({ ...verifierJwk, alg: EAR_ALG }, EAR_ALG);
  const { payload } = await jwtVerify(ear, key, { algorithms: [EAR_ALG] });
  if (payload.eat_profile !== EAR_PROFILE && payload.eat_profile !== EAR_DRAFT_PROFILE) {
    throw invalid('ear-profile-invalid', `EAR profile is neither ${EAR_DRAFT_PROFILE} nor ${EAR_PROFILE}`);
  }
  return payload as unknown as EarClaims | EarDraftClaims;
}

/** The device's status and reasons, whichever form the EAR is in. */
export function earDeviceAppraisal(claims: EarClaims | EarDraftClaims): { status: EarStatus; trustVector: TrustVector; reasons: string[] } {
  if (claims.eat_profile === EAR_DRAFT_PROFILE) {
    const d = (claims as EarDraftClaims).submods.device;
    return { status: d.ear_status, trustVector: d.ear_trustworthiness_vector, reasons: d.ear_verifier_claims?.reasons ?? [] };
  }
  const v = (claims as EarClaims).submods.device;
  return { status: v['ear.status'], trustVector: v['ear.trustworthiness-vector'], reasons: v.reasons };
}

async function thumbprint(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}
