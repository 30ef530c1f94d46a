/** Test factory: a freshly generated two-tier CA, loaded and ready to issue. */
import { CaMaterial, CertificateAuthority, CreateCaOptions } from '../certificate-authority';

export const TEST_PASSPHRASE = 'correct horse battery staple';
export const TEST_CRL_URL = 'http://pki.fleetguard.test/pki/crl';

export async function createTestCa(
  options: Partial<CreateCaOptions> = {},
): Promise<{ material: CaMaterial; ca: CertificateAuthority }> {
  const material = await CertificateAuthority.create({ passphrase: TEST_PASSPHRASE, ...options });
  const ca = await CertificateAuthority.load(material, options.passphrase ?? TEST_PASSPHRASE);
  return { material, ca };
}
