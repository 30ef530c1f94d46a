import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, Extension, GeneralName, id_ce_extKeyUsage, id_ce_subjectAltName, SubjectAlternativeName, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { X509Certificate } from 'node:crypto';
import { DomainError } from '@fleetguard/common';
import { decryptPrivateKey } from './ca-key.codec';
import { keyIdentifierOf } from './certificate-fields.builder';
import { CaMaterial, CertificateAuthority } from './certificate-authority';
import { parseCsr, ParsedCsr } from './csr.check';
import { altNames, DeviceCertificateVerifier, verifyDeviceCertificate } from './device-certificate.check';
import { DeviceCertificateProfile } from './device-certificate.profile';
import { pemEncode } from './der-input.codec';
import { randomSerialNumber } from './serial-number.generator';
import { createTestCa, TEST_CRL_URL, TEST_PASSPHRASE } from './testing/ca.factory';
import { OpensslWorkspace } from './testing/openssl.factory';
import { KeyObjectSigner, signCertificate } from './x509.signer';

function domainError(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('expected a DomainError');
}

const DAY = 24 * 60 * 60 * 1000;

describe('verifyDeviceCertificate', () => {
  let ws: OpensslWorkspace;
  let material: CaMaterial;
  let ca: CertificateAuthority;
  let csr: ParsedCsr;

  beforeAll(async () => {
    ws = OpensslWorkspace.create();
    ({ material, ca } = await createTestCa());
    csr = await parseCsr(ws.makeCsr('P-256').csrPem);
  });
  afterAll(() => ws.cleanup());

  const issue = (deviceId: string, extra: { notBefore?: Date; validityDays?: number } = {}) =>
    ca.issueDeviceCertificate({ csr, deviceId, validityDays: 90, crlDistributionUrl: TEST_CRL_URL, ...extra });

  it('returns device id, serial, validity and key of a certificate the CA issued (PEM or DER)', async () => {
    const issued = await issue('dev-42');
    for (const input of [issued.certificatePem, issued.certificateDer, Buffer.from(issued.certificatePem)]) {
      const verified = ca.verifyDeviceCertificate(input);
      expect(verified).toEqual({
        deviceId: 'dev-42',
        serialHex: issued.serialHex,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        expired: false,
        publicKeySpkiDer: csr.publicKeySpkiDer,
      });
    }
    expect(verifyDeviceCertificate(issued.certificateDer, { intermediateCertPem: material.intermediateCertPem }).deviceId).toBe('dev-42');
    const verifier = DeviceCertificateVerifier.fromPem(material);
    expect(verifyDeviceCertificate(issued.certificatePem, verifier).serialHex).toBe(issued.serialHex);
    // A certificate Node has already parsed (a TLS socket's peer certificate) gives the same answer.
    expect(ca.verifyDeviceCertificate(new X509Certificate(issued.certificateDer))).toEqual(ca.verifyDeviceCertificate(issued.certificateDer));
  });

  it('judges validity at the given time, with an optional grace period after expiry', async () => {
    const notBefore = new Date(Date.now() - 40 * DAY);
    const issued = await issue('dev-old', { notBefore, validityDays: 30 });
    expect(domainError(() => ca.verifyDeviceCertificate(issued.certificatePem))).toMatchObject({ code: 'cert.expired', kind: 'unauthorized' });
    const graced = ca.verifyDeviceCertificate(issued.certificatePem, { graceSeconds: 15 * 24 * 3600 });
    expect(graced.expired).toBe(true);
    expect(ca.verifyDeviceCertificate(issued.certificatePem, { at: new Date(notBefore.getTime() + DAY) }).expired).toBe(false);
    expect(domainError(() => ca.verifyDeviceCertificate(issued.certificatePem, { at: new Date(notBefore.getTime() - 1000) })).code).toBe(
      'cert.not-yet-valid',
    );
  });

  it('checks a certificate it has seen before from memory, still judging its validity at each call', async () => {
    const issued = await issue('dev-again');
    const verifier = DeviceCertificateVerifier.fromPem(material);
    const first = verifier.verify(issued.certificateDer);
    // What a caller does with the answer does not change the next one.
    first.publicKeySpkiDer.fill(0);
    first.notAfter.setTime(0);
    const again = verifier.verify(Buffer.from(issued.certificateDer));
    expect(again).toEqual({ ...first, publicKeySpkiDer: csr.publicKeySpkiDer, notAfter: issued.notAfter });
    expect(domainError(() => verifier.verify(issued.certificateDer, { at: new Date(issued.notAfter.getTime() + 1000) })).code).toBe('cert.expired');
    expect(domainError(() => verifier.verify(issued.certificateDer, { at: new Date(issued.notBefore.getTime() - 1000) })).code).toBe('cert.not-yet-valid');
    // A refused certificate is refused every time (failures are not remembered as successes).
    const { ca: other } = await createTestCa();
    const foreign = await other.issueDeviceCertificate({ csr, deviceId: 'dev-again', validityDays: 1, crlDistributionUrl: TEST_CRL_URL });
    for (let i = 0; i < 2; i++) expect(domainError(() => verifier.verify(foreign.certificateDer)).code).toBe('cert.untrusted');
  });

  it('answers a certificate it was told the CA issued from memory, judging its validity still, and only those exact bytes', async () => {
    const issued = await issue('dev-remembered');
    const verifier = DeviceCertificateVerifier.fromPem(material);
    // What it was told is what it answers (the fields the CA's records hold): no parse, no check.
    const told = { deviceId: 'dev-as-recorded', serialHex: issued.serialHex.toUpperCase(), notBefore: issued.notBefore, notAfter: issued.notAfter };
    expect(verifier.remember(issued.certificateDer, told)).toBe(true);
    expect(verifier.remembered).toBe(1);
    const answer = verifier.verify(issued.certificateDer);
    expect(answer).toMatchObject({ deviceId: 'dev-as-recorded', serialHex: issued.serialHex, expired: false });
    // The key is read from the presented certificate when asked.
    expect(answer.publicKeySpkiDer).toEqual(csr.publicKeySpkiDer);
    expect(domainError(() => verifier.verify(issued.certificateDer, { at: new Date(issued.notAfter.getTime() + 1000) })).code).toBe('cert.expired');
    // Other bytes (the same certificate re-encoded as another one would be) are checked for real.
    const other = await issue('dev-other');
    expect(verifier.verify(other.certificateDer).deviceId).toBe('dev-other');
    const { ca: foreign } = await createTestCa();
    const stranger = await foreign.issueDeviceCertificate({ csr, deviceId: 'dev-remembered', validityDays: 1, crlDistributionUrl: TEST_CRL_URL });
    expect(domainError(() => verifier.verify(stranger.certificateDer)).code).toBe('cert.untrusted');
  });

  it('refuses a certificate from another CA, or the CA certificates themselves', async () => {
    const { ca: other } = await createTestCa();
    const foreign = await other.issueDeviceCertificate({ csr, deviceId: 'dev-42', validityDays: 1, crlDistributionUrl: TEST_CRL_URL });
    expect(domainError(() => ca.verifyDeviceCertificate(foreign.certificatePem))).toMatchObject({ code: 'cert.untrusted', kind: 'unauthorized' });
    expect(domainError(() => ca.verifyDeviceCertificate(material.intermediateCertPem)).code).toBe('cert.untrusted');
    expect(domainError(() => ca.verifyDeviceCertificate(material.rootCertPem)).code).toBe('cert.untrusted');
  });

  it.each<[string, () => unknown]>([
    ['garbage', () => 'not a certificate'],
    ['a request instead of a certificate', () => ws.makeCsr('P-256').csrPem],
    ['a truncated certificate', () => Buffer.from('3082010a0201', 'hex')],
    ['nothing', () => undefined],
  ])('refuses %s as malformed', (_what, make) => {
    expect(domainError(() => ca.verifyDeviceCertificate(make() as string)).code).toBe('cert.malformed');
  });

  describe('a certificate signed by the intermediate but outside the device profile', () => {
    const forge = async (mutate: (extensions: Certificate['tbsCertificate']['extensions']) => void) => {
      const intermediate = AsnConvert.parse(Buffer.from(material.intermediateCertPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), Certificate);
      const profile = new DeviceCertificateProfile(
        intermediate.tbsCertificate.subject,
        keyIdentifierOf(intermediate.tbsCertificate.subjectPublicKeyInfo),
      );
      const tbs = profile.build({
        deviceId: 'dev-odd',
        publicKey: AsnConvert.parse(csr.publicKeySpkiDer, SubjectPublicKeyInfo),
        serial: randomSerialNumber().bytes,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + DAY),
        crlDistributionUrl: TEST_CRL_URL,
      });
      mutate(tbs.extensions);
      const signer = new KeyObjectSigner(decryptPrivateKey(material.intermediateKeyPem, TEST_PASSPHRASE));
      return pemEncode(await signCertificate(tbs, signer), 'CERTIFICATE');
    };

    it('is accepted untouched (the forging helper is faithful)', async () => {
      expect(ca.verifyDeviceCertificate(await forge(() => undefined)).deviceId).toBe('dev-odd');
    });

    it.each<[string, string]>([
      ['without its SAN URI', id_ce_subjectAltName],
      ['without clientAuth', id_ce_extKeyUsage],
    ])('is refused %s', async (_what, oid) => {
      const pem = await forge((extensions) => {
        const at = extensions!.findIndex((e) => e.extnID === oid);
        extensions!.splice(at, 1);
      });
      expect(domainError(() => ca.verifyDeviceCertificate(pem))).toMatchObject({ code: 'cert.bad-profile', kind: 'unauthorized' });
    });

    it('is refused when its SAN URI is only spelled inside another name', async () => {
      // Node prints a name holding a comma or a quote as a JSON string: the fake entry stays inside it.
      const pem = await forge((extensions) => {
        const at = extensions!.findIndex((e) => e.extnID === id_ce_subjectAltName);
        const names = new SubjectAlternativeName([new GeneralName({ dNSName: 'x", URI:urn:fleetguard:device:dev-odd, DNS:"y' })]);
        extensions![at] = new Extension({ extnID: id_ce_subjectAltName, critical: false, extnValue: new OctetString(AsnConvert.serialize(names)) });
      });
      expect(new X509Certificate(pem).subjectAltName).toContain('URI:urn:fleetguard:device:dev-odd');
      expect(domainError(() => ca.verifyDeviceCertificate(pem))).toMatchObject({ code: 'cert.bad-profile', kind: 'unauthorized' });
    });
  });

  it('reads Node\'s subjectAltName text entry by entry, quoted values whole', () => {
    expect(altNames(undefined)).toEqual([]);
    expect(altNames('URI:urn:fleetguard:device:d1, DNS:a.example')).toEqual([
      { type: 'URI', value: 'urn:fleetguard:device:d1' },
      { type: 'DNS', value: 'a.example' },
    ]);
    expect(altNames('DNS:"x\\", URI:urn:fleetguard:device:d1, DNS:\\"y", IP Address:127.0.0.1')).toEqual([
      { type: 'DNS', value: 'x", URI:urn:fleetguard:device:d1, DNS:"y' },
      { type: 'IP Address', value: '127.0.0.1' },
    ]);
    expect(() => altNames('DNS:"unterminated')).toThrow();
    expect(() => altNames('no colon')).toThrow();
  });

  it('refuses to build a verifier whose intermediate the root did not sign', async () => {
    const other = await CertificateAuthority.create({ passphrase: TEST_PASSPHRASE });
    expect(domainError(() => DeviceCertificateVerifier.fromPem({ intermediateCertPem: material.intermediateCertPem, rootCertPem: other.rootCertPem })).code).toBe(
      'ca.bad-chain',
    );
    expect(domainError(() => DeviceCertificateVerifier.fromPem({ intermediateCertPem: 'junk' })).code).toBe('ca.bad-material');
  });
});
