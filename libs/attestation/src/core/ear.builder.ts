import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importJWK, JWK, jwtVerify, SignJWT } from 'jose';
import { invalid } from '@fleetguard/common';
import { EarStatus, statusOf, TRUST_CLAIMS, TrustVector } from './trust-vector';

/** EAR profile (draft-ietf-rats-ear), as SPEC requires. */
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
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
}

export interface EarSubmod {
  'ear.status': EarStatus;
  'ear.trustworthiness-vector': TrustVector;
  'ear.appraisal-policy-id'?: string;
  reasons: string[];
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

/** PKCS#8 PEM of the verifier key, encrypted with AES-256-CBC when a passphrase is given. */
export function exportVerifierKeyPem(key: VerifierKey, passphrase?: string): string {
  return key.privateKey
    .export(passphrase === undefined ? { type: 'pkcs8', format: 'pem' } : { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
    .toString();
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
  const submod: EarSubmod = {
    'ear.status': status,
    'ear.trustworthiness-vector': vector,
    'ear.appraisal-policy-id': options.policyId ?? FLEETGUARD_APPRAISAL_POLICY_ID,
    reasons: [...result.reasons],
  };
  const claims: Record<string, unknown> = {
    eat_profile: EAR_PROFILE,
    'ear.verifier-id': { build: options.verifierId.build, developer: options.verifierId.developer },
    submods: { device: submod },
  };
  if (options.nonce !== null) claims.eat_nonce = options.nonce;
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: EAR_ALG, typ: 'JWT', kid: options.verifierKey.kid })
    .setIssuedAt(iat)
    .setSubject(options.deviceId)
    .sign(options.verifierKey.privateKey);
}

/** Verifies an EAR with the verifier's published JWK (for devices, the simulator, tests). */
export async function verifyEar(ear: string, verifierJwk: JWK): Promise<EarClaims> {
  const key = await importJWK({ ...verifierJwk, alg: EAR_ALG }, EAR_ALG);
  const { payload } = await jwtVerify(ear, key, { algorithms: [EAR_ALG] });
  if (payload.eat_profile !== EAR_PROFILE) throw invalid('ear-profile-invalid', `EAR profile is not ${EAR_PROFILE}`);
  return payload as unknown as EarClaims;
}

async function thumbprint(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}
