import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';

/**
 * Secrets at rest (webhook HMAC keys): AES-256-GCM with a fresh 96-bit nonce each time and the
 * owning row's id as additional data, so a sealed value copied onto another row does not open.
 * Stored as `v1.<key id>.<base64url(nonce | ciphertext | tag)>`; the key id (8 hex digits of
 * SHA-256 of the key) tells a key change apart from tampering.
 */
export class SecretBox {
  readonly keyId: string;

  private constructor(private readonly key: Buffer) {
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  /**
   * The key from key material a person chose (a passphrase): scrypt (N = 2^15, r = 8, p = 1) with
   * a salt naming the purpose, so the same passphrase gives the CA and this box unrelated keys.
   */
  static fromPassphrase(material: string, purpose = 'fleetguard/webhook-secrets/v1'): SecretBox {
    return new SecretBox(scryptSync(material.normalize('NFC'), purpose, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }));
  }

  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new Error('an AES-256 key is 32 bytes');
    return new SecretBox(Buffer.from(key));
  }

  static isSealed(value: string): boolean {
    return /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/.test(value);
  }

  seal(plaintext: string, rowId: string): string {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(Buffer.from(rowId, 'utf8'));
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return `v1.${this.keyId}.${Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64url')}`;
  }

  open(sealed: string, rowId: string): string {
    const m = /^v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/.exec(sealed);
    if (!m) throw new Error('not a sealed secret');
    if (m[1] !== this.keyId) throw new Error(`sealed under another key (${m[1]}, this one is ${this.keyId}): was the key material changed?`);
    const raw = Buffer.from(m[2], 'base64url');
    if (raw.length < 12 + 16) throw new Error('sealed secret is truncated');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(rowId, 'utf8'));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
  }
}
