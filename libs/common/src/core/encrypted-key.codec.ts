/**
 * Private keys at rest: PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018), PBKDF2-HMAC-SHA256
 * at 600,000 iterations (OWASP's figure for PBKDF2-SHA256) and AES-256-CBC, in PEM.
 *
 * Node's `KeyObject.export({ cipher, passphrase })` writes PBES2 with OpenSSL's default of 2,048
 * PBKDF2 iterations and has no option for more, so the structure is written here (asn1js for the
 * DER, node:crypto for PBKDF2 and AES) and read back by OpenSSL itself (`createPrivateKey` and
 * `openssl pkey` read the parameters from the file). Keys written with other parameters (the
 * 2,048-iteration files of earlier versions, scrypt, another cipher) stay readable: the file
 * carries its own parameters; `keyProtectionOf` tells the caller whether to write it again.
 */
import { createCipheriv, createPrivateKey, KeyObject, pbkdf2Sync, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';

export const PBKDF2_ITERATIONS = 600_000;
/** The shortest passphrase accepted for new key material and at boot (FLEETGUARD_CA_PASSPHRASE). */
export const MIN_KEY_PASSPHRASE_LENGTH = 16;

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  hmacWithSha1: '1.2.840.113549.2.7',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
};

/** What protects an encrypted PKCS#8 key, read from its own AlgorithmIdentifier. */
export type KeyProtection =
  | { kdf: 'pbkdf2'; iterations: number; prf: string; cipher: string }
  | { kdf: 'scrypt'; cost: number; blockSize: number; parallelization: number; cipher: string }
  | { kdf: 'other'; scheme: string };

/** Encrypts a private key as PKCS#8 PBES2 (PBKDF2-HMAC-SHA256, `iterations`, AES-256-CBC) PEM. */
export function encryptPrivateKeyPem(key: KeyObject, passphrase: string, iterations = PBKDF2_ITERATIONS): string {
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const derived = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', derived, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  derived.fill(0);
  const algorithm = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: OID.pbes2 }),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [
              new asn1js.ObjectIdentifier({ value: OID.pbkdf2 }),
              new asn1js.Sequence({
                value: [
                  new asn1js.OctetString({ valueHex: salt }),
                  new asn1js.Integer({ value: iterations }),
                  new asn1js.Integer({ value: 32 }),
                  new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.hmacWithSha256 }), new asn1js.Null()] }),
                ],
              }),
            ],
          }),
          new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.aes256Cbc }), new asn1js.OctetString({ valueHex: iv })] }),
        ],
      }),
    ],
  });
  const der = Buffer.from(new asn1js.Sequence({ value: [algorithm, new asn1js.OctetString({ valueHex: encrypted })] }).toBER(false));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${b64}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}

/** Decrypts an encrypted PKCS#8 PEM with OpenSSL, whatever parameters it carries. Throws on a wrong passphrase. */
export function decryptPrivateKeyPem(pem: string, passphrase: string): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem', passphrase });
}

/** The key derivation and cipher of an encrypted PKCS#8 PEM; `undefined` when it is not one. Never throws. */
export function keyProtectionOf(pem: string): KeyProtection | undefined {
  const m = /-----BEGIN ENCRYPTED PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END ENCRYPTED PRIVATE KEY-----/.exec(pem);
  if (!m) return undefined;
  const der = Buffer.from(m[1].replace(/\s/g, ''), 'base64');
  try {
    const parsed = asn1js.fromBER(new Uint8Array(der));
    if (parsed.offset === -1) return undefined;
    const info = seq(parsed.result);
    const alg = seq(info?.[0]);
    const scheme = oid(alg?.[0]);
    if (!scheme) return undefined;
    if (scheme !== OID.pbes2) return { kdf: 'other', scheme };
    const params = seq(alg![1]);
    const kdf = seq(params?.[0]);
    const enc = seq(params?.[1]);
    const kdfOid = oid(kdf?.[0]);
    const cipher = oid(enc?.[0]) ?? 'unknown';
    const kdfParams = seq(kdf?.[1]);
    if (kdfOid === OID.pbkdf2 && kdfParams) {
      const iterations = int(kdfParams[1]);
      if (iterations === undefined) return undefined;
      const last = seq(kdfParams[kdfParams.length - 1]);
      const prf = (last && oid(last[0])) ?? OID.hmacWithSha1;
      return { kdf: 'pbkdf2', iterations, prf: prf === OID.hmacWithSha256 ? 'hmacWithSHA256' : prf === OID.hmacWithSha1 ? 'hmacWithSHA1' : prf, cipher: cipherName(cipher) };
    }
    if (kdfOid === OID.scrypt && kdfParams) {
      const [cost, blockSize, parallelization] = [int(kdfParams[1]), int(kdfParams[2]), int(kdfParams[3])];
      if (cost === undefined || blockSize === undefined || parallelization === undefined) return undefined;
      return { kdf: 'scrypt', cost, blockSize, parallelization, cipher: cipherName(cipher) };
    }
    return { kdf: 'other', scheme: kdfOid ?? 'unknown' };
  } catch {
    return undefined;
  }
}

/**
 * Whether a key's protection is below today's: PBKDF2 under 600,000 iterations or with SHA-1,
 * scrypt under OWASP's N = 2^17 (r = 8, p = 1), or an unknown scheme. Such a key is still read;
 * the caller writes it again with `encryptPrivateKeyPem`.
 */
export function isWeakKeyProtection(p: KeyProtection | undefined): boolean {
  if (!p) return true;
  if (p.kdf === 'pbkdf2') return p.iterations < PBKDF2_ITERATIONS || p.prf !== 'hmacWithSHA256';
  if (p.kdf === 'scrypt') return p.cost * p.blockSize * p.parallelization < 2 ** 17 * 8;
  return true;
}

/** "PBKDF2-hmacWithSHA256, 2048 iterations, aes-256-cbc": for log lines. */
export function describeKeyProtection(p: KeyProtection | undefined): string {
  if (!p) return 'not an encrypted PKCS#8 key';
  if (p.kdf === 'pbkdf2') return `PBKDF2-${p.prf}, ${p.iterations} iterations, ${p.cipher}`;
  if (p.kdf === 'scrypt') return `scrypt N=${p.cost} r=${p.blockSize} p=${p.parallelization}, ${p.cipher}`;
  return `scheme ${p.scheme}`;
}

function seq(v: unknown): asn1js.AsnType[] | undefined {
  return v instanceof asn1js.Sequence ? (v.valueBlock.value as asn1js.AsnType[]) : undefined;
}

function oid(v: unknown): string | undefined {
  return v instanceof asn1js.ObjectIdentifier ? v.valueBlock.toString() : undefined;
}

function int(v: unknown): number | undefined {
  if (!(v instanceof asn1js.Integer)) return undefined;
  const n = Number(v.toBigInt());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function cipherName(o: string): string {
  return o === OID.aes256Cbc ? 'aes-256-cbc' : o;
}
