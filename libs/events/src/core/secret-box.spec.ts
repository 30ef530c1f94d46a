import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

describe('secret box (AES-256-GCM)', () => {
  const box = SecretBox.fromKey(randomBytes(32));

  it('opens what it sealed, for that row only, and refuses a changed byte', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.uuid(), (secret, id) => {
        const sealed = box.seal(secret, id);
        expect(SecretBox.isSealed(sealed)).toBe(true);
        expect(sealed).not.toContain(secret.length > 3 ? secret : '\u0000never');
        expect(box.open(sealed, id)).toBe(secret);
        expect(() => box.open(sealed, `${id}x`)).toThrow();
      }),
      { numRuns: 50 },
    );
    const sealed = box.seal('a-long-enough-hmac-secret', 'row');
    const raw = Buffer.from(sealed.split('.')[2], 'base64url');
    raw[14] ^= 1;
    expect(() => box.open(`v1.${box.keyId}.${raw.toString('base64url')}`, 'row')).toThrow();
    expect(() => SecretBox.fromKey(randomBytes(32)).open(sealed, 'row')).toThrow(/another key/);
  });

  it('derives the same key from the same passphrase, another from another', () => {
    const a = SecretBox.fromPassphrase('test-ca-passphrase-123');
    expect(SecretBox.fromPassphrase('test-ca-passphrase-123').keyId).toBe(a.keyId);
    expect(SecretBox.fromPassphrase('test-ca-passphrase-124').keyId).not.toBe(a.keyId);
  });

  it('is standard AES-256-GCM: opened by the AESGCM of python3-cryptography (Debian package)', () => {
    const key = randomBytes(32);
    const sealed = SecretBox.fromKey(key).seal('hello receiver', 'row-1');
    const raw = Buffer.from(sealed.split('.')[2], 'base64url');
    const out = execFileSync(
        '/usr/bin/python3',
        ['-c', 'import sys;from cryptography.hazmat.primitives.ciphers.aead import AESGCM;k,r=bytes.fromhex(sys.argv[1]),bytes.fromhex(sys.argv[2]);print(AESGCM(k).decrypt(r[:12],r[12:],b"row-1").decode())', key.toString('hex'), raw.toString('hex')],
        { encoding: 'utf8' },
      ).trim();
    expect(out).toBe('hello receiver');
  });
});
