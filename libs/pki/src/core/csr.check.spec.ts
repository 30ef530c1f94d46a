import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { parseCsr, rememberVerifiedCsr, verifiedSubjectPublicKeyOf } from './csr.check';
import { OpensslKeyKind, OpensslWorkspace } from './testing/openssl.factory';
import { expectDomainError } from '@fleetguard/common/testing';

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');


describe('parseCsr', () => {
  let ws: OpensslWorkspace;
  beforeAll(() => {
    ws = OpensslWorkspace.create();
  });
  afterAll(() => ws.cleanup());

  describe.each<[OpensslKeyKind, string, number]>([
    ['P-256', 'P-256', 256],
    ['P-384', 'P-384', 384],
    ['Ed25519', 'Ed25519', 256],
    ['RSA-2048', 'RSA', 2048],
  ])('a %s request made by openssl req -new', (kind, keyType, keyBits) => {
    let csrPem: string;
    let keyPath: string;
    beforeAll(() => ({ csrPem, keyPath } = ws.makeCsr(kind)));

    it('is accepted with its key type, size, subject and public key', async () => {
      const csr = await parseCsr(csrPem);
      expect(csr.keyType).toBe(keyType);
      expect(csr.keyBits).toBe(keyBits);
      expect(csr.commonName).toBe('device-requested-name');
      expect(csr.subject).toContain('CN=device-requested-name');
      expect(csr.subject).toContain('O=Requested Org');
      expect(csr.publicKeySpkiDer.equals(ws.publicKeyDer(keyPath))).toBe(true);
      expect(csr.raw.equals(pemToDer(csrPem))).toBe(true);
    });

    it('gives issuance the key\'s subjectPublicKey as the decoded key has it, checked here or by a worker (remembered), and nothing for a changed key', async () => {
      const csr = await parseCsr(csrPem);
      const decoded = new Uint8Array(AsnConvert.parse(csr.publicKeySpkiDer, SubjectPublicKeyInfo).subjectPublicKey);
      expect(Buffer.from(verifiedSubjectPublicKeyOf(csr)!).equals(Buffer.from(decoded))).toBe(true);
      const fromWorker = { ...csr, publicKeySpkiDer: Buffer.from(csr.publicKeySpkiDer) };
      expect(verifiedSubjectPublicKeyOf(fromWorker)).toBeUndefined();
      rememberVerifiedCsr(fromWorker);
      expect(Buffer.from(verifiedSubjectPublicKeyOf(fromWorker)!).equals(Buffer.from(decoded))).toBe(true);
      fromWorker.publicKeySpkiDer[fromWorker.publicKeySpkiDer.length - 1] ^= 0x01;
      expect(verifiedSubjectPublicKeyOf(fromWorker)).toBeUndefined();
    });

    it('is refused with csr.bad-signature when a signature byte is flipped', async () => {
      const der = pemToDer(csrPem);
      der[der.length - 1] ^= 0x01;
      expect((await expectDomainError(parseCsr(der))).code).toBe('csr.bad-signature');
    });
  });

  it('refuses a request whose signed content was altered (another subject)', async () => {
    const { csrPem } = ws.makeCsr('P-256', { subject: '/CN=aaaa' });
    const der = pemToDer(csrPem);
    const at = der.indexOf(Buffer.from('aaaa'));
    der[at] = 'b'.charCodeAt(0);
    expect((await expectDomainError(parseCsr(der))).code).toBe('csr.bad-signature');
  });

  describe('input forms', () => {
    let csrPem: string;
    beforeAll(() => ({ csrPem } = ws.makeCsr('P-256')));

    it('takes DER bytes', async () => {
      expect((await parseCsr(pemToDer(csrPem))).keyType).toBe('P-256');
    });

    it('takes base64 DER as EST sends it, with line breaks (string or Buffer)', async () => {
      const b64 = pemToDer(csrPem).toString('base64').replace(/.{1,64}/g, '$&\r\n');
      expect((await parseCsr(b64)).keyType).toBe('P-256');
      expect((await parseCsr(Buffer.from(b64))).keyType).toBe('P-256');
    });

    it('takes PEM as a Buffer and the old NEW CERTIFICATE REQUEST label', async () => {
      expect((await parseCsr(Buffer.from(csrPem))).keyType).toBe('P-256');
      expect((await parseCsr(csrPem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST'))).keyType).toBe('P-256');
    });
  });

  describe('key policy', () => {
    it.each<[OpensslKeyKind]>([['RSA-1024'], ['secp256k1'], ['P-521'], ['Ed448'], ['DSA']])(
      'refuses a %s key with csr.key-not-allowed',
      async (kind) => {
        const { csrPem } = ws.makeCsr(kind);
        const error = await expectDomainError(parseCsr(csrPem));
        expect(error.code).toBe('csr.key-not-allowed');
        expect(error.kind).toBe('invalid');
      },
    );

    it('accepts P-521 when allowed', async () => {
      const { csrPem } = ws.makeCsr('P-521');
      expect(await parseCsr(csrPem, { allowP521: true })).toMatchObject({ keyType: 'P-521', keyBits: 521 });
    });

    it('applies a configured RSA minimum, and refuses one below 2048', async () => {
      const { csrPem } = ws.makeCsr('RSA-2048');
      expect((await expectDomainError(parseCsr(csrPem, { minRsaBits: 3072 }))).code).toBe('csr.key-not-allowed');
      expect((await expectDomainError(parseCsr(csrPem, { minRsaBits: 1024 }))).code).toBe('pki.bad-key-policy');
    });

    it('refuses a SHA-1 signature with csr.signature-algorithm-not-allowed', async () => {
      const { keyPath } = ws.makeCsr('P-256');
      ws.openssl(['req', '-new', '-key', keyPath, '-sha1', '-subj', '/CN=x', '-out', 'sha1.csr']);
      expect((await expectDomainError(parseCsr(ws.read('sha1.csr')))).code).toBe('csr.signature-algorithm-not-allowed');
    });
  });

  describe('malformed input', () => {
    let csrPem: string;
    beforeAll(() => ({ csrPem } = ws.makeCsr('P-256')));

    it.each<[string, () => unknown]>([
      ['an empty string', () => ''],
      ['an empty buffer', () => Buffer.alloc(0)],
      ['text that is not base64', () => 'hello, world!'],
      ['random bytes', () => Buffer.from('30ff00112233445566778899', 'hex')],
      ['a DER SEQUENCE of nothing', () => Buffer.from([0x30, 0x00])],
      ['truncated DER', () => pemToDer(csrPem).subarray(0, 100)],
      ['DER with trailing bytes', () => Buffer.concat([pemToDer(csrPem), Buffer.from([0, 0])])],
      ['truncated PEM', () => csrPem.slice(0, csrPem.length / 2)],
      ['PEM whose body was cut short', () => csrPem.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END')],
      ['PEM with a wrong label', () => csrPem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')],
      ['two requests', () => csrPem + csrPem],
      ['a number', () => 42],
      ['null', () => null],
    ])('refuses %s with csr.malformed', async (_what, make) => {
      const error = await expectDomainError(parseCsr(make() as string));
      expect(error.code).toBe('csr.malformed');
    });

    it('refuses an oversized body with csr.too-large', async () => {
      expect((await expectDomainError(parseCsr('A'.repeat(200_000)))).code).toBe('csr.too-large');
    });

    it('throws only DomainErrors for arbitrary bytes, strings and mutated requests', async () => {
      const der = pemToDer(csrPem);
      const mutated = fc
        .array(fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })
        .map((flips) => {
          const copy = Buffer.from(der);
          for (const [at, mask] of flips) copy[at] ^= mask;
          return copy;
        });
      const cut = fc.nat({ max: der.length - 1 }).map((n) => der.subarray(0, n));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)), fc.string({ maxLength: 600 }), mutated, cut),
          async (input) => {
            try {
              await parseCsr(input);
            } catch (e) {
              if (!(e instanceof DomainError)) throw e;
              expect(e.code).toMatch(/^csr\./);
            }
          },
        ),
        { numRuns: 400 },
      );
    });
  });
});

describe('parseCsr regression (found by the fuzz test)', () => {
  it('refuses a request whose BER makes asn1js throw (UniversalString of odd length) as csr.malformed', async () => {
    const der = Buffer.from([48, 129, 243, 28, 129, 154, 2, 1, 0, 48, 56, 49, 30, 48, 28, 6, 3, 85, 4, 3, 12, 21, 100, 101, 118, 105, 99, 101, 45, 114, 101, 113, 117, 101, 115, 116, 101, 100, 45, 110, 97, 109, 101, 49, 22, 48, 20, 6, 3, 85, 4, 10, 12, 13, 82, 101, 113, 117, 101, 115, 116, 101, 100, 32, 79, 114, 103, 48, 89, 48, 19, 6, 7, 42, 134, 72, 206, 61, 2, 1, 6, 8, 42, 134, 72, 206, 61, 3, 1, 7, 3, 66, 0, 4, 239, 136, 127, 243, 201, 99, 242, 226, 224, 89, 144, 169, 80, 162, 184, 164, 173, 52, 227, 44, 186, 11, 61, 152, 203, 239, 229, 105, 242, 19, 7, 111, 103, 170, 230, 42, 81, 100, 83, 159, 65, 127, 111, 60, 111, 228, 114, 44, 248, 122, 114, 20, 209, 126, 170, 106, 6, 160, 5, 136, 104, 6, 141, 136, 160, 0, 48, 10, 6, 8, 42, 134, 72, 206, 61, 4, 3, 2, 3, 72, 0, 48, 69, 2, 32, 75, 89, 63, 21, 191, 159, 163, 110, 145, 161, 226, 41, 135, 252, 173, 239, 71, 96, 201, 30, 85, 42, 48, 132, 69, 243, 149, 116, 245, 201, 228, 164, 2, 33, 0, 152, 140, 115, 66, 137, 54, 90, 95, 196, 131, 7, 128, 9, 253, 146, 41, 149, 98, 7, 16, 222, 208, 237, 246, 214, 247, 109, 208, 83, 215, 238, 224]);
    await expect(parseCsr(der)).rejects.toMatchObject({ code: 'csr.malformed' });
  });
});
