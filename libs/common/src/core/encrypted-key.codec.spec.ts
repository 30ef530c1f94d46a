import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { decryptPrivateKeyPem, encryptPrivateKeyPem, isWeakKeyProtection, keyProtectionOf, PBKDF2_ITERATIONS } from './encrypted-key.codec';

const PASS = 'a passphrase of 24 chars';

describe('encrypted PKCS#8 keys (PBES2, PBKDF2-HMAC-SHA256 600,000, AES-256-CBC)', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-pkcs8-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' }).toString('hex');

  it('writes 600,000 iterations of HMAC-SHA256 with AES-256-CBC, as openssl asn1parse reads them', () => {
    const file = path.join(dir, 'new.pem');
    fs.writeFileSync(file, encryptPrivateKeyPem(privateKey, PASS));
    const dump = execFileSync('openssl', ['asn1parse', '-in', file], { encoding: 'utf8' });
    expect(dump).toContain('PBES2');
    expect(dump).toContain('PBKDF2');
    expect(dump).toContain('hmacWithSHA256');
    expect(dump).toContain('aes-256-cbc');
    // The iteration count is an INTEGER in hex: 600000 = 0x0927C0.
    expect(dump).toMatch(/INTEGER\s+:0927C0/);
    expect(PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(600_000);
  });

  it('is decrypted by openssl with the passphrase (and not without it) to the same key', () => {
    const file = path.join(dir, 'openssl.pem');
    fs.writeFileSync(file, encryptPrivateKeyPem(privateKey, PASS));
    const out = execFileSync('openssl', ['pkey', '-in', file, '-passin', `pass:${PASS}`, '-pubout'], { encoding: 'utf8' });
    expect(spki(out)).toBe(spki(privateKey));
    expect(spki(decryptPrivateKeyPem(fs.readFileSync(file, 'utf8'), PASS))).toBe(spki(privateKey));
    expect(spawnSync('openssl', ['pkey', '-in', file, '-passin', 'pass:wrong passphrase!!', '-noout']).status).not.toBe(0);
  });

  it("reads the protection of keys it did not write: Node's own export (2,048 iterations) and openssl scrypt are weak or not as they are", () => {
    const node = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }) as string;
    expect(keyProtectionOf(node)).toEqual({ kdf: 'pbkdf2', iterations: 2048, prf: 'hmacWithSHA256', cipher: 'aes-256-cbc' });
    expect(isWeakKeyProtection(keyProtectionOf(node))).toBe(true);
    expect(spki(decryptPrivateKeyPem(node, PASS))).toBe(spki(privateKey));

    const ours = keyProtectionOf(encryptPrivateKeyPem(privateKey, PASS));
    expect(ours).toEqual({ kdf: 'pbkdf2', iterations: 600_000, prf: 'hmacWithSHA256', cipher: 'aes-256-cbc' });
    expect(isWeakKeyProtection(ours)).toBe(false);

    const clear = path.join(dir, 'clear.pem');
    fs.writeFileSync(clear, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const scrypt = execFileSync('openssl', ['pkcs8', '-topk8', '-in', clear, '-scrypt', '-passout', `pass:${PASS}`], { encoding: 'utf8' });
    expect(keyProtectionOf(scrypt)).toMatchObject({ kdf: 'scrypt', cost: 16384, blockSize: 8, parallelization: 1 });
    expect(isWeakKeyProtection(keyProtectionOf(scrypt))).toBe(true);
    expect(spki(decryptPrivateKeyPem(scrypt, PASS))).toBe(spki(privateKey));

    const sha1 = execFileSync('openssl', ['pkcs8', '-topk8', '-in', clear, '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA1', '-iter', '700000', '-passout', `pass:${PASS}`], { encoding: 'utf8' });
    expect(keyProtectionOf(sha1)).toMatchObject({ kdf: 'pbkdf2', iterations: 700000, prf: 'hmacWithSHA1' });
    expect(isWeakKeyProtection(keyProtectionOf(sha1))).toBe(true);
    expect(keyProtectionOf(fs.readFileSync(clear, 'utf8'))).toBeUndefined();
  });

  it('never throws on damaged or arbitrary input (fuzz)', () => {
    const good = encryptPrivateKeyPem(privateKey, PASS, 1000);
    const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const wrap = (b: Uint8Array) => `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.from(b).toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const p = keyProtectionOf(wrap(bytes));
        expect(p === undefined || typeof p.kdf === 'string').toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(der.length), (at, value, cut) => {
        const bent = Buffer.from(der);
        bent[at] = value;
        const p = keyProtectionOf(wrap(bent.subarray(0, cut)));
        expect(p === undefined || typeof p.kdf === 'string').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
