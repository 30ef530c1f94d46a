import { CertificateAuthority } from './certificate-authority';
import { caDifference, caIdentity } from './ca-identity';

describe('CA identity', () => {
  jest.setTimeout(60_000);
  it('is the same for the same CA, and names the root fingerprints of two different CAs', async () => {
    const a = await CertificateAuthority.create({ passphrase: 'a-long-passphrase' });
    const b = await CertificateAuthority.create({ passphrase: 'a-long-passphrase' });
    expect(caDifference(caIdentity(a), caIdentity({ ...a }))).toBeNull();
    const d = caDifference(caIdentity(a), caIdentity(b));
    expect(d).toContain(caIdentity(a).rootSha256);
    expect(d).toContain(caIdentity(b).rootSha256);
  });

  it('tells a different issuing key under the same root apart', async () => {
    const a = await CertificateAuthority.create({ passphrase: 'a-long-passphrase' });
    const b = await CertificateAuthority.create({ passphrase: 'a-long-passphrase' });
    expect(caDifference(caIdentity(a), caIdentity({ rootCertPem: a.rootCertPem, intermediateCertPem: b.intermediateCertPem }))).toMatch(/issuing CA key SHA-256/);
  });
});
