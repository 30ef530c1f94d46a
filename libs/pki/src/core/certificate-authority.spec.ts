import { createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { decryptPrivateKey, generateCaKey } from './ca-key.codec';
import { KeyObjectSigner } from './x509.signer';
import { CaMaterial, CertificateAuthority } from './certificate-authority';
import { parseCsr, ParsedCsr } from './csr.check';
import { createTestCa, TEST_CRL_URL, TEST_PASSPHRASE } from './testing/ca.factory';
import { OpensslKeyKind, OpensslWorkspace } from './testing/openssl.factory';
import { expectDomainError } from '@fleetguard/common/testing';


const DAY = 24 * 60 * 60 * 1000;

describe('CertificateAuthority', () => {
  let ws: OpensslWorkspace;
  let material: CaMaterial;
  let ca: CertificateAuthority;
  let p256: ParsedCsr;

  beforeAll(async () => {
    ws = OpensslWorkspace.create();
    ({ material, ca } = await createTestCa());
    ws.write('root.pem', material.rootCertPem);
    ws.write('intermediate.pem', material.intermediateCertPem);
    p256 = await parseCsr(ws.makeCsr('P-256').csrPem);
  });
  afterAll(() => ws.cleanup());

  const issue = (deviceId: string, csr: ParsedCsr = p256, extra: { validityDays?: number; notBefore?: Date } = {}) =>
    ca.issueDeviceCertificate({ csr, deviceId, validityDays: 90, crlDistributionUrl: TEST_CRL_URL, ...extra });

  describe('create', () => {
    it('encrypts both keys as PKCS#8 that openssl decrypts with the passphrase only', () => {
      for (const key of [material.rootKeyPem, material.intermediateKeyPem]) {
        expect(key.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')).toBe(true);
        const path = ws.write('ca.key', key);
        expect(ws.run(['pkey', '-in', path, '-passin', `pass:${TEST_PASSPHRASE}`, '-noout']).status).toBe(0);
        expect(ws.run(['pkey', '-in', path, '-passin', 'pass:wrong passphrase', '-noout']).status).not.toBe(0);
      }
    });

    it('protects both keys with PBKDF2-HMAC-SHA256 at 600,000 iterations (not OpenSSL\'s default 2,048), as openssl reads them', () => {
      for (const key of [material.rootKeyPem, material.intermediateKeyPem]) {
        const dump = ws.openssl(['asn1parse', '-in', ws.write('kdf.key', key)]);
        expect(dump).toContain('hmacWithSHA256');
        expect(dump).toMatch(/INTEGER\s+:0927C0/); // 600000
      }
    });

    it('refuses a passphrase under 16 characters for new keys', async () => {
      expect((await expectDomainError(CertificateAuthority.create({ passphrase: 'fifteen chars!!' }))).code).toBe('ca.weak-passphrase');
    });

    it('writes a key of an earlier version (2,048 iterations) again under 600,000, same passphrase, same key', async () => {
      const { reencryptIfWeak, decryptPrivateKey, encryptPrivateKey } = await import('./ca-key.codec');
      const { keyProtectionOf } = await import('@fleetguard/common');
      const key = decryptPrivateKey(material.intermediateKeyPem, TEST_PASSPHRASE);
      const old = key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: TEST_PASSPHRASE }) as string;
      const again = reencryptIfWeak(old, TEST_PASSPHRASE)!;
      expect(again.was).toBe('PBKDF2-hmacWithSHA256, 2048 iterations, aes-256-cbc');
      expect(keyProtectionOf(again.pem)).toMatchObject({ kdf: 'pbkdf2', iterations: 600_000 });
      expect(decryptPrivateKey(again.pem, TEST_PASSPHRASE).export({ type: 'pkcs8', format: 'der' })).toEqual(key.export({ type: 'pkcs8', format: 'der' }));
      expect(reencryptIfWeak(encryptPrivateKey(key, TEST_PASSPHRASE), TEST_PASSPHRASE)).toBeUndefined();
      expect(() => reencryptIfWeak(old, 'not the passphrase at all')).toThrow(/wrong passphrase/);
    });

    it('makes a self-signed root and an intermediate with pathlen 0 that openssl verifies', () => {
      const root = ws.openssl(['x509', '-in', 'root.pem', '-noout', '-text']);
      expect(root).toMatch(/Subject: O = Fleetguard, CN = Fleetguard Device Root CA/);
      expect(root).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
      expect(root).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
      expect(root).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(root).toMatch(/NIST CURVE: P-256/);

      const intermediate = ws.openssl(['x509', '-in', 'intermediate.pem', '-noout', '-text']);
      expect(intermediate).toMatch(/Issuer: O = Fleetguard, CN = Fleetguard Device Root CA/);
      expect(intermediate).toMatch(/Subject: O = Fleetguard, CN = Fleetguard Device Issuing CA/);
      expect(intermediate).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      expect(intermediate).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
      expect(intermediate).toMatch(/Authority Key Identifier/);
      expect(ws.openssl(['verify', '-x509_strict', '-CAfile', 'root.pem', 'intermediate.pem'])).toMatch(/intermediate.pem: OK/);
    });

    it('gives the root a long validity and keeps the intermediate inside it', () => {
      const root = new NodeX509Certificate(material.rootCertPem);
      const intermediate = new NodeX509Certificate(material.intermediateCertPem);
      expect(new Date(root.validTo).getTime() - Date.now()).toBeGreaterThan(19 * 365 * DAY);
      expect(new Date(intermediate.validTo).getTime()).toBeLessThanOrEqual(new Date(root.validTo).getTime());
      expect(new Date(intermediate.validTo).getTime() - Date.now()).toBeGreaterThan(9 * 365 * DAY);
    });

    it('takes names and refuses a short passphrase or a bad name', async () => {
      const named = await CertificateAuthority.create({
        passphrase: TEST_PASSPHRASE,
        rootCommonName: 'Acme Root',
        intermediateCommonName: 'Acme Issuing',
        organization: 'Acme',
      });
      expect(new NodeX509Certificate(named.intermediateCertPem).subject).toBe('O=Acme\nCN=Acme Issuing');
      expect((await expectDomainError(CertificateAuthority.create({ passphrase: 'short' }))).code).toBe('ca.weak-passphrase');
      expect((await expectDomainError(CertificateAuthority.create({ passphrase: TEST_PASSPHRASE, rootCommonName: '' }))).code).toBe(
        'pki.bad-name',
      );
    });

    it.each<['P-384' | 'Ed25519', RegExp]>([
      ['P-384', /Signature Algorithm: ecdsa-with-SHA384/],
      ['Ed25519', /Signature Algorithm: ED25519/],
    ])('makes a %s CA whose device certificates openssl verifies', async (keyAlgorithm, signature) => {
      const { material: m, ca: other } = await createTestCa({ keyAlgorithm });
      expect(other.keyAlgorithm).toBe(keyAlgorithm);
      const issued = await other.issueDeviceCertificate({
        csr: p256,
        deviceId: 'dev-alt',
        validityDays: 30,
        crlDistributionUrl: TEST_CRL_URL,
      });
      ws.write('alt-root.pem', m.rootCertPem);
      ws.write('alt-int.pem', m.intermediateCertPem);
      ws.write('alt-dev.pem', issued.certificatePem);
      expect(ws.openssl(['x509', '-in', 'alt-dev.pem', '-noout', '-text'])).toMatch(signature);
      expect(ws.openssl(['verify', '-CAfile', 'alt-root.pem', '-untrusted', 'alt-int.pem', 'alt-dev.pem'])).toMatch(/OK/);
    });
  });

  describe('load', () => {
    it('refuses a wrong passphrase with ca.bad-passphrase, whatever the passphrase', async () => {
      for (const wrong of ['', 'x', 'correct horse battery stapl', 'Correct horse battery staple', ...Array.from({ length: 12 }, (_, i) => `guess-${i}`)]) {
        const error = await expectDomainError(CertificateAuthority.load(material, wrong));
        expect(error.code).toBe('ca.bad-passphrase');
        expect(error.kind).toBe('unauthorized');
      }
    });

    it('refuses a key stored in clear', async () => {
      ws.write('enc.key', material.intermediateKeyPem);
      const clear = ws.openssl(['pkey', '-in', 'enc.key', '-passin', `pass:${TEST_PASSPHRASE}`]);
      expect((await expectDomainError(CertificateAuthority.load({ ...material, intermediateKeyPem: clear }, TEST_PASSPHRASE))).code).toBe(
        'ca.unencrypted-key',
      );
    });

    it('refuses a key that does not belong to the intermediate', async () => {
      const swapped = { ...material, intermediateKeyPem: material.rootKeyPem };
      expect((await expectDomainError(CertificateAuthority.load(swapped, TEST_PASSPHRASE))).code).toBe('ca.key-mismatch');
    });

    it('refuses an intermediate that the root did not sign, and garbage certificates', async () => {
      const other = await CertificateAuthority.create({ passphrase: TEST_PASSPHRASE });
      const mixed = { ...material, rootCertPem: other.rootCertPem };
      expect((await expectDomainError(CertificateAuthority.load(mixed, TEST_PASSPHRASE))).code).toBe('ca.bad-chain');
      const garbage = { ...material, rootCertPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' };
      expect((await expectDomainError(CertificateAuthority.load(garbage, TEST_PASSPHRASE))).code).toBe('ca.bad-material');
    });

    it('exposes the chain as intermediate then root', () => {
      expect(ca.chainPem).toBe(material.intermediateCertPem + material.rootCertPem);
      expect(ca.rootCertPem).toBe(material.rootCertPem);
      expect(ca.intermediateCertPem).toBe(material.intermediateCertPem);
    });
  });

  describe('createIntermediateWith (rollover)', () => {
    it('makes a second issuing CA under the same root: openssl verifies devices of both, each only through its own CA', async () => {
      const key = await generateCaKey('P-256');
      const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
      const rootSigner = new KeyObjectSigner(decryptPrivateKey(material.rootKeyPem, TEST_PASSPHRASE));
      const pem = await CertificateAuthority.createIntermediateWith(material.rootCertPem, rootSigner, spki, { commonName: 'Fleetguard Device Issuing CA 2', rootCrlUrl: 'https://pki.example/pki/root-crl' });
      const second = await CertificateAuthority.fromSigner({ rootCertPem: material.rootCertPem, intermediateCertPem: pem }, new KeyObjectSigner(key));
      ws.write('inter-2.pem', pem);
      const text = ws.openssl(['x509', '-in', 'inter-2.pem', '-noout', '-text']);
      expect(text).toMatch(/Subject: O = Fleetguard, CN = Fleetguard Device Issuing CA 2\n/);
      expect(text).toMatch(/CA:TRUE, pathlen:0/);
      expect(text).toContain('URI:https://pki.example/pki/root-crl');
      expect(ws.openssl(['verify', '-x509_strict', '-CAfile', 'root.pem', 'inter-2.pem'])).toMatch(/inter-2.pem: OK/);

      const a = ws.write('dev-gen1.pem', (await issue('dev-gen1')).certificatePem);
      const b = ws.write('dev-gen2.pem', (await second.issueDeviceCertificate({ csr: p256, deviceId: 'dev-gen2', validityDays: 30, crlDistributionUrl: TEST_CRL_URL })).certificatePem);
      ws.write('both.pem', pem + material.intermediateCertPem);
      for (const f of [a, b]) expect(ws.openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'both.pem', f])).toMatch(/: OK/);
      // Each device certificate chains through its own issuing CA only.
      expect(ws.run(['verify', '-CAfile', 'root.pem', '-untrusted', 'intermediate.pem', b]).status).not.toBe(0);
      expect(ws.run(['verify', '-CAfile', 'root.pem', '-untrusted', 'inter-2.pem', a]).status).not.toBe(0);
      const bPem = ws.read('dev-gen2.pem').toString();
      expect(second.verifyDeviceCertificate(bPem).deviceId).toBe('dev-gen2');
      await expectDomainError(() => ca.verifyDeviceCertificate(bPem), 'cert.untrusted');
    });

    it('refuses a root signer that is not the root key, and an expired root', async () => {
      const other = new KeyObjectSigner(await generateCaKey('P-256'));
      const spki = createPublicKey(await generateCaKey('P-256')).export({ type: 'spki', format: 'der' });
      await expectDomainError(() => CertificateAuthority.createIntermediateWith(material.rootCertPem, other, spki, { commonName: 'x' }), 'ca.key-mismatch');
      const rootSigner = new KeyObjectSigner(decryptPrivateKey(material.rootKeyPem, TEST_PASSPHRASE));
      await expectDomainError(() => CertificateAuthority.createIntermediateWith(material.rootCertPem, rootSigner, spki, { commonName: 'x', now: new Date(Date.now() + 40 * 365 * DAY) }), 'ca.expired');
    });
  });

  describe('issueDeviceCertificate', () => {
    it.each<[OpensslKeyKind]>([['P-256'], ['P-384'], ['Ed25519'], ['RSA-2048']])(
      'issues for a %s request a certificate that openssl verifies as a TLS client',
      async (kind) => {
        const csr = await parseCsr(ws.makeCsr(kind).csrPem);
        const issued = await issue(`dev-${kind.toLowerCase()}`, csr);
        const path = ws.write(`dev-${kind}.pem`, issued.certificatePem);
        const out = ws.openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'intermediate.pem', path]);
        expect(out).toMatch(/: OK/);
        expect(Buffer.from(new NodeX509Certificate(issued.certificatePem).raw).equals(issued.certificateDer)).toBe(true);
      },
    );

    it('follows the device profile exactly, whatever the request asked for', async () => {
      const { csrPem, keyPath } = ws.makeCsr('P-256', {
        subject: '/CN=evil/O=Evil Corp',
        addext: ['subjectAltName=DNS:evil.example', 'basicConstraints=critical,CA:TRUE', 'keyUsage=keyCertSign'],
      });
      const issued = await issue('dev-0001', await parseCsr(csrPem));
      ws.write('profile.pem', issued.certificatePem);
      const text = ws.openssl(['x509', '-in', 'profile.pem', '-noout', '-text', '-certopt', 'ext_parse']);

      expect(text).toMatch(/Subject: CN = dev-0001\n/);
      expect(text).toMatch(/Issuer: O = Fleetguard, CN = Fleetguard Device Issuing CA\n/);
      expect(text).toMatch(/Subject Alternative Name: \n\s+URI:urn:fleetguard:device:dev-0001\n/);
      expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
      expect(text).toMatch(/Key Usage: critical\n\s+Digital Signature\n/);
      expect(text).toMatch(/Basic Constraints: critical\n\s+CA:FALSE\n/);
      expect(text).toMatch(/CRL Distribution Points: \n\s+Full Name:\n\s+URI:http:\/\/pki\.fleetguard\.test\/pki\/crl\n/);
      expect(text).toMatch(/Subject Key Identifier/);
      expect(text).toMatch(/Authority Key Identifier/);
      expect(text).not.toMatch(/evil|Evil|CA:TRUE|Certificate Sign/);
      expect((text.match(/X509v3 (?!extensions:)/g) ?? []).length).toBe(7);

      // Serial: 16 octets, positive, and reported as such.
      const serial = ws.openssl(['x509', '-in', 'profile.pem', '-noout', '-serial']).trim().replace('serial=', '');
      expect(serial).toHaveLength(32);
      expect(serial.toLowerCase()).toBe(issued.serialHex);
      expect(parseInt(serial[0], 16)).toBeLessThan(8);

      // SKI is the device key's, AKI the intermediate's SKI.
      const node = new NodeX509Certificate(issued.certificatePem);
      expect(node.publicKey.export({ type: 'spki', format: 'der' }).equals(ws.publicKeyDer(keyPath))).toBe(true);
      const ski = (pem: string) => ws.openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier'], pem).split('\n')[1].trim();
      const aki = ws.openssl(['x509', '-noout', '-ext', 'authorityKeyIdentifier'], issued.certificatePem).split('\n')[1].trim();
      expect(aki.replace(/^keyid:/, '')).toBe(ski(material.intermediateCertPem));
      expect(ski(issued.certificatePem)).not.toBe(ski(material.intermediateCertPem));
    });

    it('gives random, distinct 128-bit serials with the top bit clear', async () => {
      const serials = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const { serialHex } = await issue(`dev-${i}`);
        expect(serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
        expect(serialHex.startsWith('00')).toBe(false);
        serials.add(serialHex);
      }
      expect(serials.size).toBe(100);
    });

    it('backdates notBefore by a few minutes and ends validityDays from now', async () => {
      const before = Date.now();
      const issued = await issue('dev-validity');
      const node = new NodeX509Certificate(issued.certificatePem);
      expect(new Date(node.validFrom).getTime()).toBe(issued.notBefore.getTime());
      expect(new Date(node.validTo).getTime()).toBe(issued.notAfter.getTime());
      expect(before - issued.notBefore.getTime()).toBeGreaterThanOrEqual(5 * 60 * 1000 - 15_000);
      expect(before - issued.notBefore.getTime()).toBeLessThan(6 * 60 * 1000);
      expect(Math.abs(issued.notAfter.getTime() - (before + 90 * DAY))).toBeLessThan(15_000);
    });

    it('honours notBefore and never outlives the intermediate', async () => {
      const notBefore = new Date('2030-01-02T03:04:05.678Z');
      const issued = await issue('dev-later', p256, { notBefore, validityDays: 10 });
      expect(issued.notBefore.toISOString()).toBe('2030-01-02T03:04:05.000Z');
      expect(issued.notAfter.toISOString()).toBe('2030-01-12T03:04:05.000Z');

      const { ca: shortLived } = await createTestCa({ intermediateValidityDays: 30 });
      const capped = await shortLived.issueDeviceCertificate({ csr: p256, deviceId: 'dev-capped', validityDays: 90, crlDistributionUrl: TEST_CRL_URL });
      expect(capped.notAfter.getTime()).toBe(shortLived.intermediateNotAfter.getTime());
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['a device id with a slash', { deviceId: 'a/b' }, 'pki.bad-device-id'],
      ['a device id with MQTT wildcards', { deviceId: 'dev+#' }, 'pki.bad-device-id'],
      ['an empty device id', { deviceId: '' }, 'pki.bad-device-id'],
      ['a 65-character device id', { deviceId: 'd'.repeat(65) }, 'pki.bad-device-id'],
      ['a DN-injecting device id', { deviceId: 'x,CN=admin' }, 'pki.bad-device-id'],
      ['a non-http CRL URL', { crlDistributionUrl: 'ftp://x/crl' }, 'pki.bad-crl-url'],
      ['a relative CRL URL', { crlDistributionUrl: '/pki/crl' }, 'pki.bad-crl-url'],
      ['zero days', { validityDays: 0 }, 'pki.bad-validity'],
      ['NaN days', { validityDays: Number.NaN }, 'pki.bad-validity'],
      ['an invalid notBefore', { notBefore: new Date('nope') }, 'pki.bad-validity'],
      ['no public key', { csr: {} }, 'cert.bad-public-key'],
      ['a public key that is not one', { csr: { publicKeySpkiDer: Buffer.from('3003020101', 'hex') } }, 'cert.malformed'],
    ])('refuses %s', async (_what, override, code) => {
      const error = await expectDomainError(
        ca.issueDeviceCertificate({ csr: p256, deviceId: 'dev-x', validityDays: 90, crlDistributionUrl: TEST_CRL_URL, ...override } as never),
      );
      expect(error.code).toBe(code);
    });

    it('refuses to certify a key the policy forbids, even when handed one directly', async () => {
      const weak = ws.publicKeyDer(ws.makeCsr('RSA-1024').keyPath);
      expect((await expectDomainError(issue('dev-weak', { ...p256, publicKeySpkiDer: weak }))).code).toBe('cert.key-not-allowed');
    });
  });
});
