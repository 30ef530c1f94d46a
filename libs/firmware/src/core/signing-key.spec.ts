import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { signingKeyFromKeyObject, signingKeyFromPem, signingKeyFromSpki } from './signing-key';
import { outcomeOf, samplePrivateKey, samplesIndex, sampleText } from './testing/firmware-samples';

const pubPem = (name: string) => sampleText(samplesIndex.keys[name].public);

describe('signingKeyFromPem', () => {
  it.each([
    ['ec-p256', 'ES256'],
    ['ed25519', 'EdDSA'],
    ['rsa-3072', 'RSA-PSS'],
  ])('reads %s as %s, with the key id openssl computed (SHA-256 of the SPKI DER)', (name, algorithm) => {
    const key = signingKeyFromPem(pubPem(name));
    expect(key.algorithm).toBe(algorithm);
    expect(key.keyId).toBe(samplesIndex.keys[name].keyId);
    expect(key.keyId).toBe(createHash('sha256').update(key.spkiDer).digest('hex'));
    expect(key.mcubootKeyHashes[0]).toBe(key.keyId);
    expect(key.keyObject.type).toBe('public');
  });

  it('gives an RSA key its PKCS#1 KEYHASH form too (what imgtool hashes)', () => {
    const key = signingKeyFromPem(pubPem('rsa-3072'));
    expect(key.modulusBits).toBe(3072);
    expect(key.mcubootKeyHashes).toEqual([samplesIndex.keys['rsa-3072'].keyId, samplesIndex.keys['rsa-3072'].mcubootKeyHashPkcs1]);
  });

  it('reads an "RSA PUBLIC KEY" (PKCS#1) PEM as the same key', () => {
    const spki = signingKeyFromPem(pubPem('rsa-3072'));
    const pkcs1 = spki.keyObject.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(signingKeyFromPem(pkcs1).keyId).toBe(spki.keyId);
  });

  it('refuses a private key, saying so', () => {
    expect(outcomeOf(() => signingKeyFromPem(sampleText(samplesIndex.keys['ec-p256'].private)))).toBe('signing-key.private-key');
    expect(outcomeOf(() => signingKeyFromKeyObject(samplePrivateKey('ec-p256')))).toBe('signing-key.private-key');
  });

  it.each([
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, 'signing-key.unsupported-algorithm'],
    ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, 'signing-key.unsupported-algorithm'],
    ['Ed448', () => generateKeyPairSync('ed448').publicKey, 'signing-key.unsupported-algorithm'],
    ['X25519', () => generateKeyPairSync('x25519').publicKey, 'signing-key.unsupported-algorithm'],
    ['RSA-1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, 'signing-key.too-weak'],
    ['RSA-PSS restricted', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey, 'signing-key.unsupported-algorithm'],
    ['DSA', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey, 'signing-key.unsupported-algorithm'],
  ])('refuses %s', (_name, make, code) => {
    const pem = make().export({ type: 'spki', format: 'pem' }) as string;
    expect(outcomeOf(() => signingKeyFromPem(pem))).toBe(code);
  });

  it('accepts P-384 as ES384 (MCUboot ECDSA P-384 with SHA-384)', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(signingKeyFromPem(pem).algorithm).toBe('ES384');
  });

  it('accepts RSA-2048', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(signingKeyFromPem(pem).modulusBits).toBe(2048);
  });

  it('refuses what is not a public key PEM, with a DomainError whatever the text', () => {
    expect(outcomeOf(() => signingKeyFromPem('hello'))).toBe('signing-key.invalid-pem');
    expect(outcomeOf(() => signingKeyFromPem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'))).toBe('signing-key.invalid-pem');
    expect(outcomeOf(() => signingKeyFromPem('x'.repeat(20000)))).toBe('signing-key.invalid-pem');
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.boolean(), (body, framed) => {
        const text = framed ? `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n` : body;
        expect(outcomeOf(() => signingKeyFromPem(text))).toMatch(/^signing-key\./);
      }),
      { numRuns: 300 },
    );
  });
});

describe('signingKeyFromSpki', () => {
  it('reads DER and refuses garbage', () => {
    const key = signingKeyFromPem(pubPem('ed25519'));
    expect(signingKeyFromSpki(key.spkiDer).keyId).toBe(key.keyId);
    expect(outcomeOf(() => signingKeyFromSpki(Buffer.from('nope')))).toBe('signing-key.invalid-pem');
  });

  it('derives the same key from a private key through createPublicKey', () => {
    expect(signingKeyFromKeyObject(createPublicKey(samplePrivateKey('ec-p256'))).keyId).toBe(samplesIndex.keys['ec-p256'].keyId);
  });
});
