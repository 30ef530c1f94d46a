/**
 * JWS compact serialization (RFC 7515 §7.1) over node:crypto's one-shot sign and verify: what the
 * hot path needs of jose, without its per-call promise and WebCrypto job (a verify through jose
 * cost the service's event loop more than the ECDSA itself). The signature is always node:crypto's;
 * this file only splits, encodes and checks the header. Imports nothing but node built-ins, so a
 * worker thread loads it alone (jws.pool.ts).
 *
 * The header checks are jose's for the compact form: a JSON object, `alg` one the caller allows
 * (the caller derives them from the key, never from the header), no `crit` (no extension is
 * understood here: RFC 7515 §4.1.11 says such a JWS must be refused).
 */
import { constants, KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';

export type JwsVerification = { ok: true; alg: string; payload: Uint8Array } | { ok: false; reason: 'malformed' | 'alg-not-allowed' | 'signature'; message: string; alg?: string };

type Scheme = {
  digest: string | null;
  options: { dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number };
  /** The key the algorithm is defined for (RFC 7518: ES256 is P-256 only, RS/PS need 2048 bits). */
  fits(key: KeyObject): boolean;
};

const curve = (name: string) => (k: KeyObject) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === name;
const ed25519 = (k: KeyObject) => k.asymmetricKeyType === 'ed25519';
const rsa = (types: string[]) => (k: KeyObject) => types.includes(k.asymmetricKeyType ?? '') && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;

/** The node:crypto parameters of each JWS algorithm accepted anywhere (RFC 7518 §3, RFC 8037). */
const SCHEMES: Record<string, Scheme> = {
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' }, fits: curve('prime256v1') },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' }, fits: curve('secp384r1') },
  ES512: { digest: 'sha512', options: { dsaEncoding: 'ieee-p1363' }, fits: curve('secp521r1') },
  EdDSA: { digest: null, options: {}, fits: ed25519 },
  Ed25519: { digest: null, options: {}, fits: ed25519 },
  RS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING }, fits: rsa(['rsa']) },
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, fits: rsa(['rsa', 'rsa-pss']) },
};

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeHeader(text: string): Record<string, unknown> | null {
  try {
    const h: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return h !== null && typeof h === 'object' && !Array.isArray(h) ? (h as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The protected header of a compact JWS (a JSON object), or null when it is not readable. */
export function compactJwsHeader(jws: string): Record<string, unknown> | null {
  const dot = jws.indexOf('.');
  return dot < 0 ? null : decodeHeader(jws.slice(0, dot));
}

/**
 * Verifies a compact JWS with `key`, accepting only `algorithms`. Never throws: says what is
 * wrong (`malformed`: not a readable JWS; `alg-not-allowed`; `signature`: does not verify).
 */
export function verifyCompactJws(jws: string, key: KeyObject, algorithms: readonly string[]): JwsVerification {
  const first = jws.indexOf('.');
  const second = first < 0 ? -1 : jws.indexOf('.', first + 1);
  if (first < 0 || second < 0 || jws.indexOf('.', second + 1) >= 0) return { ok: false, reason: 'malformed', message: 'Invalid Compact JWS' };
  const [h, p, s] = [jws.slice(0, first), jws.slice(first + 1, second), jws.slice(second + 1)];
  if (!B64URL.test(h) || !B64URL.test(p) || !B64URL.test(s)) return { ok: false, reason: 'malformed', message: 'Invalid Compact JWS' };
  const header = decodeHeader(h);
  if (!header) return { ok: false, reason: 'malformed', message: 'JWS Protected Header is invalid' };
  if (header.crit !== undefined) return { ok: false, reason: 'malformed', message: 'Extension Header Parameter "crit" is not supported' };
  const alg = header.alg;
  if (typeof alg !== 'string' || !alg) return { ok: false, reason: 'malformed', message: 'JWS "alg" (Algorithm) Header Parameter missing or invalid' };
  const scheme = SCHEMES[alg];
  if (!algorithms.includes(alg) || !scheme) return { ok: false, reason: 'alg-not-allowed', alg, message: '"alg" (Algorithm) Header Parameter value not allowed' };
  if (!scheme.fits(key)) return { ok: false, reason: 'signature', alg, message: `the key is not a ${alg} key` };
  let verified = false;
  try {
    verified = cryptoVerify(scheme.digest, Buffer.from(`${h}.${p}`), { key, ...scheme.options }, Buffer.from(s, 'base64url'));
  } catch {
    verified = false; // a signature of the wrong length for the key, or a key of the wrong type
  }
  if (!verified) return { ok: false, reason: 'signature', alg, message: 'signature verification failed' };
  return { ok: true, alg, payload: Buffer.from(p, 'base64url') };
}

/** `<header>.<payload>` of a compact JWS: both JSON, base64url-encoded. */
export function jwsSigningInput(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
}

/** The base64url signature of a signing input under `alg` (a name of SCHEMES) with a private key. */
export function signJwsInput(signingInput: string, alg: string, key: KeyObject): string {
  const scheme = SCHEMES[alg];
  if (!scheme) throw new Error(`JWS algorithm ${alg} is not supported`);
  if (!scheme.fits(key)) throw new Error(`the key is not a ${alg} key`);
  return cryptoSign(scheme.digest, Buffer.from(signingInput), { key, ...scheme.options }).toString('base64url');
}
