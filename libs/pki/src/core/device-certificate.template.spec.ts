import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { distinguishedName, toWholeSeconds } from './certificate-fields.builder';
import { DeviceCertificateProfile } from './device-certificate.profile';
import { DeviceCertificateTemplate } from './device-certificate.template';
import { randomSerialNumber } from './serial-number.generator';
import { CaKeyAlgorithm, signatureAlgorithmFor } from './x509.signer';

/** The fast path must write exactly the bytes the schema classes write for the same fields. */
describe('DeviceCertificateTemplate: byte for byte the schema-built device profile', () => {
  const keys = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
    generateKeyPairSync('ed25519').publicKey,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
  ].map((k) => k.export({ type: 'spki', format: 'der' }));
  const issuers = (['P-256', 'P-384', 'Ed25519'] as CaKeyAlgorithm[]).map((alg, i) => {
    const name = distinguishedName(`Issuing CA ${i} ünïcode`, 'Fleetguard');
    const keyId = randomSerialNumber().bytes.subarray(0, 20);
    const profile = new DeviceCertificateProfile(name, keyId);
    return { alg, profile, template: new DeviceCertificateTemplate(profile, name, signatureAlgorithmFor(alg)) };
  });

  const deviceId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  // 1970..2200: UTCTime and GeneralizedTime both, whole seconds.
  const date = fc.integer({ min: 0, max: 7258118400 - 1 }).map((s) => toWholeSeconds(s * 1000));
  const url = fc.constantFrom('http://localhost:3000/pki/crl', 'https://pki.example.com/a/very/long/path/' + 'x'.repeat(300) + '/crl');
  const ocsp = fc.option(fc.constantFrom('http://localhost:3000/pki/ocsp', 'https://ocsp.example.com/' + 'y'.repeat(200)), { nil: undefined });

  it('for random device ids, keys, serials, dates, URLs and issuers', () => {
    fc.assert(
      fc.property(fc.nat(issuers.length - 1), fc.nat(keys.length - 1), deviceId, date, date, url, ocsp, (ii, ki, id, notBefore, notAfter, crlUrl, ocspUrl) => {
        const { alg, profile, template } = issuers[ii]!;
        const spkiDer = keys[ki]!;
        const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
        const serial = randomSerialNumber().bytes;
        const tbs = profile.build({ deviceId: id, publicKey: spki, serial, notBefore, notAfter, crlDistributionUrl: crlUrl, ocspUrl });
        tbs.signature = signatureAlgorithmFor(alg);
        const expected = Buffer.from(AsnConvert.serialize(tbs));
        const actual = template.tbsDer({ deviceId: id, publicKeySpkiDer: spkiDer, subjectPublicKey: new Uint8Array(spki.subjectPublicKey), serial, notBefore, notAfter }, crlUrl, ocspUrl);
        expect(actual.toString('hex')).toBe(expected.toString('hex'));
      }),
      { numRuns: 400 },
    );
  });
});
