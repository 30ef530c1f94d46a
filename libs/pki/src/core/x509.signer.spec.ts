import { createPublicKey, generateKeyPairSync, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList, SubjectPublicKeyInfo, TBSCertList, Time, Version } from '@peculiar/asn1-x509';
import { DomainError } from '@fleetguard/common';
import { rootCaTbs } from './ca-certificate.profile';
import { distinguishedName } from './certificate-fields.builder';
import { randomSerialNumber } from './serial-number.generator';
import { CaKeyAlgorithm, KeyObjectSigner, signCertificate, signCertList, signerMatchesPublicKey } from './x509.signer';
import { x509 } from './x509.platform';

const keyPair = (algorithm: CaKeyAlgorithm) =>
  algorithm === 'Ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: algorithm === 'P-256' ? 'prime256v1' : 'secp384r1' });

describe('x509.signer', () => {
  it.each<[CaKeyAlgorithm]>([['P-256'], ['P-384'], ['Ed25519']])(
    'signs a %s certificate that re-encodes byte for byte and verifies with Node',
    async (algorithm) => {
      const { privateKey, publicKey } = keyPair(algorithm);
      const signer = new KeyObjectSigner(privateKey);
      expect(signer.keyAlgorithm).toBe(algorithm);
      const name = distinguishedName('Signer Test');
      const der = await signCertificate(
        rootCaTbs({
          subject: name,
          publicKey: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
          serial: randomSerialNumber().bytes,
          notBefore: new Date('2026-01-01T00:00:00Z'),
          notAfter: new Date('2060-01-01T00:00:00Z'), // past 2049: GeneralizedTime
        }),
        signer,
      );
      const parsed = AsnConvert.parse(der, Certificate);
      expect(Buffer.from(AsnConvert.serialize(parsed)).equals(der)).toBe(true);
      expect(parsed.signatureAlgorithm.algorithm).toBe(parsed.tbsCertificate.signature.algorithm);
      const node = new NodeX509Certificate(der);
      expect(node.verify(publicKey)).toBe(true);
      expect(new Date(node.validTo).toISOString()).toBe('2060-01-01T00:00:00.000Z');
      expect(await signerMatchesPublicKey(signer, publicKey)).toBe(true);
      expect(await signerMatchesPublicKey(signer, createPublicKey(keyPair(algorithm).privateKey))).toBe(false);
    },
  );

  it('signs a CRL that an independent parser verifies', async () => {
    const { privateKey, publicKey } = keyPair('P-256');
    const der = await signCertList(
      new TBSCertList({
        version: Version.v2,
        issuer: distinguishedName('CRL Test'),
        thisUpdate: new Time(new Date('2026-01-01T00:00:00Z')),
        nextUpdate: new Time(new Date('2026-01-02T00:00:00Z')),
      }),
      new KeyObjectSigner(privateKey),
    );
    expect(Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, CertificateList))).equals(der)).toBe(true);
    const crl = new x509.X509Crl(new Uint8Array(der));
    const issuerKey = new x509.PublicKey(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })));
    expect(await crl.verify({ publicKey: issuerKey })).toBe(true);
  });

  it('takes only P-256, P-384 and Ed25519 private keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    for (const key of [rsa.privateKey, k1.privateKey, keyPair('P-256').publicKey]) {
      expect(() => new KeyObjectSigner(key)).toThrow(DomainError);
    }
  });
});
