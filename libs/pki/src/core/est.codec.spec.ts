import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, id_signedData, SignedData } from '@peculiar/asn1-cms';
import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { CaMaterial, IssuedCertificate } from './certificate-authority';
import { parseCsr } from './csr.check';
import { buildCsrAttrs, estBase64Encode, estDecodeBody, toPkcs7CertsOnly } from './est.codec';
import { createTestCa, TEST_CRL_URL } from './testing/ca.factory';
import { OpensslWorkspace } from './testing/openssl.factory';

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');

function domainError(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('expected a DomainError');
}

describe('EST codec', () => {
  let ws: OpensslWorkspace;
  let material: CaMaterial;
  let device: IssuedCertificate;

  beforeAll(async () => {
    ws = OpensslWorkspace.create();
    const created = await createTestCa();
    material = created.material;
    const csr = await parseCsr(ws.makeCsr('P-256').csrPem);
    device = await created.ca.issueDeviceCertificate({ csr, deviceId: 'dev-est', validityDays: 30, crlDistributionUrl: TEST_CRL_URL });
  });
  afterAll(() => ws.cleanup());

  describe('toPkcs7CertsOnly', () => {
    it('makes a certs-only SignedData that openssl pkcs7 -print_certs reads back byte for byte', () => {
      const certs = [device.certificateDer, pemToDer(material.intermediateCertPem), pemToDer(material.rootCertPem)];
      const path = ws.write('certs.p7', toPkcs7CertsOnly(certs));
      const printed = ws.openssl(['pkcs7', '-inform', 'DER', '-in', path, '-print_certs']);
      expect(printed.match(/^subject=.*$/gm)).toEqual([
        'subject=CN = dev-est',
        'subject=O = Fleetguard, CN = Fleetguard Device Issuing CA',
        'subject=O = Fleetguard, CN = Fleetguard Device Root CA',
      ]);
      const blocks = printed.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
      expect(blocks.map(pemToDer)).toEqual(certs);
    });

    it('is degenerate: version 1, no digest algorithms, no encapsulated content, no signers', () => {
      const contentInfo = AsnConvert.parse(toPkcs7CertsOnly([device.certificateDer]), ContentInfo);
      expect(contentInfo.contentType).toBe(id_signedData);
      const signedData = AsnConvert.parse(contentInfo.content, SignedData);
      expect(signedData.version).toBe(1);
      expect(signedData.digestAlgorithms).toHaveLength(0);
      expect(signedData.encapContentInfo.eContentType).toBe('1.2.840.113549.1.7.1');
      expect(signedData.encapContentInfo.eContent).toBeUndefined();
      expect(signedData.signerInfos).toHaveLength(0);
      expect(signedData.certificates).toHaveLength(1);
    });

    it('refuses an empty list or something that is not a certificate', () => {
      expect(domainError(() => toPkcs7CertsOnly([])).code).toBe('est.no-certificates');
      expect(domainError(() => toPkcs7CertsOnly([Buffer.from('3003020101', 'hex')])).code).toBe('est.bad-certificate');
    });
  });

  describe('estBase64Encode / estDecodeBody', () => {
    it('wraps lines at 64 (or 76) characters, and openssl base64 -d reads it', () => {
      const der = toPkcs7CertsOnly([device.certificateDer, pemToDer(material.intermediateCertPem)]);
      for (const width of [64, 76] as const) {
        const text = estBase64Encode(der, width);
        const lines = text.trimEnd().split('\n');
        expect(lines.slice(0, -1).every((l) => l.length === width)).toBe(true);
        expect(lines[lines.length - 1].length).toBeLessThanOrEqual(width);
        expect(Buffer.from(ws.openssl(['base64', '-d'], text), 'latin1').equals(der)).toBe(true);
      }
    });

    it('decodes base64 with any whitespace, PEM, and raw DER', () => {
      const der = pemToDer(ws.makeCsr('P-256').csrPem);
      const b64 = der.toString('base64');
      expect(estDecodeBody(b64)).toEqual(der);
      expect(estDecodeBody(Buffer.from(b64.replace(/.{1,60}/g, '$&\r\n')))).toEqual(der);
      expect(estDecodeBody(` \n${b64.slice(0, 10)} \t ${b64.slice(10)}\n`)).toEqual(der);
      expect(estDecodeBody(estBase64Encode(der))).toEqual(der);
      expect(estDecodeBody(der)).toEqual(der);
      expect(estDecodeBody(`-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`)).toEqual(der);
    });

    it.each<[string, unknown, string]>([
      ['an empty body', '', 'est.malformed'],
      ['whitespace only', ' \r\n ', 'est.malformed'],
      ['characters outside base64', 'MIIB$$$$', 'est.malformed'],
      ['base64url', 'MIIB-_AA', 'est.malformed'],
      ['base64 of something that is not DER', Buffer.from('hello').toString('base64'), 'est.malformed'],
      ['a huge body', 'A'.repeat(300_000), 'est.too-large'],
    ])('refuses %s', (_what, body, code) => {
      expect(domainError(() => estDecodeBody(body as string)).code).toBe(code);
    });

    it('round-trips any DER-looking bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), (bytes) => {
          const der = Buffer.concat([Buffer.from([0x30]), bytes]);
          expect(estDecodeBody(estBase64Encode(der))).toEqual(der);
        }),
      );
    });
  });

  describe('buildCsrAttrs', () => {
    it('advertises an EC P-256 key and ecdsa-with-SHA256, readable by openssl asn1parse', () => {
      const path = ws.write('csrattrs.der', buildCsrAttrs());
      const parsed = ws.openssl(['asn1parse', '-inform', 'DER', '-in', path]);
      const lines = parsed.trim().split('\n').map((l) => l.replace(/^\s*\d+:d=(\d+).*?:\s*(\S.*)$/, '$1 $2').replace(/\s+$/, ''));
      expect(lines).toEqual([
        '0 SEQUENCE',
        '1 SEQUENCE',
        '2 OBJECT            :id-ecPublicKey',
        '2 SET',
        '3 OBJECT            :prime256v1',
        '1 OBJECT            :ecdsa-with-SHA256',
      ]);
    });

    it('can ask for P-384 and for a challengePassword', () => {
      const parsed = ws.openssl(['asn1parse', '-inform', 'DER'], buildCsrAttrs({ curve: 'P-384', challengePassword: true }));
      expect(parsed).toMatch(/:challengePassword/);
      expect(parsed).toMatch(/:secp384r1/);
      expect(parsed).toMatch(/:ecdsa-with-SHA384/);
      expect(domainError(() => buildCsrAttrs({ curve: 'P-521' as never })).code).toBe('est.bad-csrattrs');
    });
  });
});
