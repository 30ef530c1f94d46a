import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { CborTag, encodeCbor, COSE_ALGS, COSE_SIGN1_TAG, sigStructure, PSA_CLAIM } from '@fleetguard/attestation';

/** Claims of a PSA token as a test or the simulator describes them (bytes as Buffers). */
export interface PsaTokenSpec {
  profile?: string;
  nonce: Buffer;
  instanceId: Buffer;
  implementationId: Buffer;
  clientId?: number;
  lifecycle?: number;
  /** null: leave the claim out. */
  bootSeed?: Buffer | null;
  certificationReference?: string;
  components: Array<{ measurementType?: string; measurementValue: Buffer; version?: string; signerId: Buffer; measurementDesc?: string }>;
  verificationService?: string;
}

export const PSA_LIFECYCLE_SECURED = 0x3000;
export const PSA_LIFECYCLE_NON_PSA_ROT_DEBUG = 0x4000;

/** The claims map (integer keys) of a spec, in the order TF-M writes them. */
export function psaClaimsMap(s: PsaTokenSpec): Map<number, unknown> {
  const m = new Map<number, unknown>();
  m.set(PSA_CLAIM.profile, s.profile ?? 'tag:psacertified.org,2023:psa#tfm');
  m.set(PSA_CLAIM.clientId, s.clientId ?? 1);
  m.set(PSA_CLAIM.lifecycle, s.lifecycle ?? PSA_LIFECYCLE_SECURED);
  m.set(PSA_CLAIM.implementationId, s.implementationId);
  if (s.bootSeed !== null) m.set(PSA_CLAIM.bootSeed, s.bootSeed ?? Buffer.alloc(32, 0xb5));
  if (s.certificationReference) m.set(PSA_CLAIM.certificationReference, s.certificationReference);
  m.set(
    PSA_CLAIM.softwareComponents,
    s.components.map((c) => {
      const e = new Map<number, unknown>();
      if (c.measurementType !== undefined) e.set(1, c.measurementType);
      e.set(2, c.measurementValue);
      if (c.version !== undefined) e.set(4, c.version);
      e.set(5, c.signerId);
      if (c.measurementDesc !== undefined) e.set(6, c.measurementDesc);
      return e;
    }),
  );
  m.set(PSA_CLAIM.nonce, s.nonce);
  m.set(PSA_CLAIM.instanceId, s.instanceId);
  if (s.verificationService) m.set(PSA_CLAIM.verificationService, s.verificationService);
  return m;
}

const ALG_OF_CURVE: Record<string, keyof typeof COSE_ALGS> = { prime256v1: -7, secp384r1: -35, secp521r1: -36 };

/** Signs any payload as a tagged COSE_Sign1 with our own encoder (device simulator, fuzz seeds, bench). */
export function signCoseSign1(payload: Uint8Array, key: KeyObject): Buffer {
  const algId = ALG_OF_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (algId === undefined) throw new TypeError('signing key must be EC P-256, P-384 or P-521');
  const protectedBytes = encodeCbor(new Map([[1, algId]]));
  const signature = cryptoSign(COSE_ALGS[algId].hash, sigStructure(protectedBytes, payload), { key, dsaEncoding: 'ieee-p1363' });
  return Buffer.from(encodeCbor(new CborTag(COSE_SIGN1_TAG, [protectedBytes, new Map(), payload, signature])));
}

/** A PSA token built with Fleetguard's encoder. */
export function buildPsaToken(spec: PsaTokenSpec, iak: KeyObject): Buffer {
  return signCoseSign1(encodeCbor(psaClaimsMap(spec)), iak);
}

export function generateIak(curve: 'P-256' | 'P-384' | 'P-521' = 'P-256') {
  return generateKeyPairSync('ec', { namedCurve: curve });
}

/* ------------------------------------------------- the independent encoder (python3-cbor2 + openssl) */

const SCRIPT = path.join(__dirname, 'psa_token_cbor2.py');
/** Debian's python (python3-cbor2 lives there), not a pyenv shim that may shadow it. */
export const SYSTEM_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** CBOR diagnostic notation of a value (maps with integer or text keys, arrays, ints, text, bytes). */
export function toDiag(v: unknown): string {
  if (v instanceof Map) return `{${[...v].map(([k, e]) => `${toDiag(k)}: ${toDiag(e)}`).join(', ')}}`;
  if (Array.isArray(v)) return `[${v.map(toDiag).join(', ')}]`;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `h'${Buffer.from(v).toString('hex')}'`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  throw new TypeError(`toDiag: ${typeof v} is not supported`);
}

/**
 * A token encoded by python3-cbor2 and signed by openssl from CBOR diagnostic notation:
 * nothing of Fleetguard's CBOR or COSE code is involved.
 */
export function buildPsaTokenWithCbor2(diag: string, iakPrivatePem: string, alg: 'ES256' | 'ES384' | 'ES512' = 'ES256'): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'psa-cbor2-'));
  try {
    const keyPath = path.join(dir, 'iak.pem');
    writeFileSync(keyPath, iakPrivatePem, { mode: 0o600 });
    const out = execFileSync(SYSTEM_PYTHON, [SCRIPT, '--key', keyPath, '--alg', alg], { input: diag, encoding: 'utf8' });
    return Buffer.from(out.trim(), 'base64url');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
