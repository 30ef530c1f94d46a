import { DomainError } from '@fleetguard/common';
import { CaMaterial, CertificateAuthority, IssuedCertificate } from './certificate-authority';
import { parseCsr } from './csr.check';
import { parseRevocationReason, REVOCATION_REASONS, revocationReasonCode } from './revocation-reason.codec';
import { createTestCa, TEST_CRL_URL } from './testing/ca.factory';
import { OpensslWorkspace } from './testing/openssl.factory';
import { x509 } from './x509.platform';
import { expectDomainError } from '@fleetguard/common/testing';


const HOUR = 60 * 60 * 1000;

describe('CertificateAuthority.buildCrl', () => {
  let ws: OpensslWorkspace;
  let material: CaMaterial;
  let ca: CertificateAuthority;
  let revoked: IssuedCertificate;
  let kept: IssuedCertificate;

  beforeAll(async () => {
    ws = OpensslWorkspace.create();
    ({ material, ca } = await createTestCa());
    const csr = await parseCsr(ws.makeCsr('P-256').csrPem);
    const issue = (deviceId: string) => ca.issueDeviceCertificate({ csr, deviceId, validityDays: 90, crlDistributionUrl: TEST_CRL_URL });
    [revoked, kept] = await Promise.all([issue('dev-revoked'), issue('dev-kept')]);
    ws.write('revoked.pem', revoked.certificatePem);
    ws.write('kept.pem', kept.certificatePem);
    ws.write('intermediate.pem', material.intermediateCertPem);
  });
  afterAll(() => ws.cleanup());

  /** openssl verify -crl_check with root + intermediate + CRL in one CAfile, as the SPEC says. */
  const verifyWithCrl = (crlPem: string, cert: string) => {
    ws.write('bundle.pem', material.rootCertPem + material.intermediateCertPem + crlPem);
    return ws.run(['verify', '-crl_check', '-CAfile', 'bundle.pem', cert]);
  };

  it('makes openssl verify -crl_check report a revoked certificate as revoked and pass another', async () => {
    const crl = await ca.buildCrl({
      revoked: [{ serialHex: revoked.serialHex, revokedAt: new Date(Date.now() - HOUR), reason: 'keyCompromise' }],
      crlNumber: 1,
      nextUpdate: new Date(Date.now() + 24 * HOUR),
    });
    const bad = verifyWithCrl(crl.pem, 'revoked.pem');
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/certificate revoked/);
    const good = verifyWithCrl(crl.pem, 'kept.pem');
    expect(good.stdout).toMatch(/kept.pem: OK/);
    expect(good.status).toBe(0);
  });

  it('passes every certificate with an empty CRL', async () => {
    const crl = await ca.buildCrl({ revoked: [], crlNumber: 0, nextUpdate: new Date(Date.now() + HOUR) });
    expect(verifyWithCrl(crl.pem, 'revoked.pem').status).toBe(0);
    expect(ws.openssl(['crl', '-noout', '-text'], crl.pem)).toMatch(/No Revoked Certificates/);
  });

  it('is signed by the intermediate and carries CRL number, AKI, dates and reason codes', async () => {
    const thisUpdate = new Date('2026-03-01T10:00:00.250Z');
    const nextUpdate = new Date('2026-03-02T10:00:00Z');
    const crl = await ca.buildCrl({
      revoked: [
        { serialHex: revoked.serialHex, revokedAt: new Date('2026-02-28T09:00:00Z'), reason: 'superseded' },
        { serialHex: 'ABCDEF01', revokedAt: new Date('2026-02-28T09:30:00Z'), reason: 5 },
        { serialHex: '0a:0b', revokedAt: new Date('2026-02-28T09:45:00Z') },
      ],
      crlNumber: 2n ** 100n,
      thisUpdate,
      nextUpdate,
    });
    expect(crl.thisUpdate.toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(crl.crlNumber).toBe(2n ** 100n);
    expect(crl.pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);

    const path = ws.write('crl.der', crl.der);
    const signature = ws.run(['crl', '-inform', 'DER', '-in', path, '-noout', '-CAfile', 'intermediate.pem']);
    expect(signature.status).toBe(0);
    expect(signature.stdout + signature.stderr).toMatch(/verify OK/);
    const text = ws.openssl(['crl', '-inform', 'DER', '-in', path, '-noout', '-text']);
    expect(text).toMatch(/Version 2/);
    expect(text).toMatch(/Issuer: O = Fleetguard, CN = Fleetguard Device Issuing CA/);
    expect(text).toMatch(/Last Update: Mar  1 10:00:00 2026 GMT/);
    expect(text).toMatch(/Next Update: Mar  2 10:00:00 2026 GMT/);
    expect(text).toMatch(new RegExp(`X509v3 CRL Number: \\n\\s+${2n ** 100n}\\n`));
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(text).toContain(`Serial Number: ${revoked.serialHex.toUpperCase()}`);
    expect(text).toMatch(/Serial Number: ABCDEF01\n\s+Revocation Date: Feb 28 09:30:00 2026 GMT\n\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code: \n\s+Cessation Of Operation/);
    expect(text).toMatch(/Reason Code: \n\s+Superseded/);
    // `unspecified` is written without a reasonCode (RFC 5280 5.3.1).
    expect(text).toMatch(/Serial Number: 0A0B\n\s+Revocation Date: Feb 28 09:45:00 2026 GMT\n(?!\s+CRL entry extensions)/);

    // And an independent parser agrees, including the signature.
    const parsed = new x509.X509Crl(crl.pem);
    expect(await parsed.verify({ publicKey: new x509.X509Certificate(material.intermediateCertPem) })).toBe(true);
    expect(parsed.findRevoked(revoked.serialHex)?.reason).toBe(x509.X509CrlReason.superseded);
    expect(Buffer.from(parsed.rawData).equals(crl.der)).toBe(true);
  });

  it('writes every RFC 5280 reason openssl knows, except removeFromCRL which it refuses', async () => {
    const reasons = REVOCATION_REASONS.filter((r) => r !== 'unspecified' && r !== 'removeFromCRL');
    const crl = await ca.buildCrl({
      revoked: reasons.map((reason, i) => ({ serialHex: (i + 1).toString(16), revokedAt: new Date(), reason })),
      crlNumber: 7,
      nextUpdate: new Date(Date.now() + HOUR),
    });
    const parsed = new x509.X509Crl(new Uint8Array(crl.der));
    expect(parsed.entries.map((e) => e.reason)).toEqual(reasons.map((r) => revocationReasonCode(r)));
    const error = await expectDomainError(
      ca.buildCrl({ revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'removeFromCRL' }], crlNumber: 1, nextUpdate: new Date(Date.now() + HOUR) }),
    );
    expect(error.code).toBe('crl.bad-reason');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a duplicate serial', { revoked: [{ serialHex: '01', revokedAt: new Date() }, { serialHex: '0001', revokedAt: new Date() }] }, 'crl.duplicate-serial'],
    ['a non-hex serial', { revoked: [{ serialHex: 'xyz', revokedAt: new Date() }] }, 'crl.bad-serial'],
    ['a zero serial', { revoked: [{ serialHex: '00', revokedAt: new Date() }] }, 'crl.bad-serial'],
    ['a 21-octet serial', { revoked: [{ serialHex: 'ff'.repeat(20), revokedAt: new Date() }] }, 'crl.bad-serial'],
    ['an unknown reason', { revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'bored' }] }, 'pki.bad-revocation-reason'],
    ['reason code 7', { revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 7 }] }, 'pki.bad-revocation-reason'],
    ['a bad revocation date', { revoked: [{ serialHex: '01', revokedAt: 'yesterday' }] }, 'crl.bad-date'],
    ['a negative CRL number', { crlNumber: -1 }, 'crl.bad-number'],
    ['a fractional CRL number', { crlNumber: 1.5 }, 'crl.bad-number'],
    ['a CRL number over 20 octets', { crlNumber: 2n ** 160n }, 'crl.bad-number'],
    ['nextUpdate before thisUpdate', { thisUpdate: new Date(Date.now() + 2 * HOUR) }, 'crl.bad-dates'],
    ['no nextUpdate', { nextUpdate: undefined }, 'crl.bad-date'],
    ['revoked not a list', { revoked: 'all' }, 'crl.bad-request'],
  ])('refuses %s', async (_what, override, code) => {
    const request = { revoked: [], crlNumber: 1, nextUpdate: new Date(Date.now() + HOUR), ...override };
    expect((await expectDomainError(ca.buildCrl(request as never))).code).toBe(code);
  });
});

describe('parseRevocationReason', () => {
  it('lists the RFC 5280 reasons with their codes', () => {
    expect(REVOCATION_REASONS).toEqual([
      'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
      'cessationOfOperation', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise',
    ]);
    expect(REVOCATION_REASONS.map(revocationReasonCode)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
  });

  it.each<[unknown, string]>([
    ['keyCompromise', 'keyCompromise'],
    ['key-compromise', 'keyCompromise'],
    ['KEY_COMPROMISE', 'keyCompromise'],
    ['cessation of operation', 'cessationOfOperation'],
    [4, 'superseded'],
    ['10', 'aACompromise'],
  ])('reads %p as %s', (input, expected) => {
    expect(parseRevocationReason(input)).toBe(expected);
  });

  it.each<[unknown]>([['bored'], [7], [11], [-1], [1.5], [''], [null], [undefined], [{}], [10n]])('refuses %p', (input) => {
    expect(() => parseRevocationReason(input)).toThrow(DomainError);
    try {
      parseRevocationReason(input);
    } catch (e) {
      expect((e as DomainError).code).toBe('pki.bad-revocation-reason');
    }
  });
});
