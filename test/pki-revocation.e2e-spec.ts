import * as fs from 'node:fs';
import { TestService, createProduct, createTenant, startTestService } from './support/service';
import { Workdir, curl, openssl, opensslCsr } from './support/openssl';

/** Revocation as relying parties see it, with openssl as the client: both CRLs, and OCSP. */
describe('revocation status: root CRL and the issuing CA CRL, OCSP', () => {
  let s: TestService;
  let w: Workdir;
  let key: string;
  let productId: string;
  let rootFile: string;
  let interFile: string;
  let good: { deviceId: string; file: string; keyFile: string };
  let revoked: { deviceId: string; file: string };

  async function enrollOne(name: string) {
    const t = await s.api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count: 1, expiresInSeconds: 3600 }, key);
    expect(t.status).toBe(201);
    const { csrPem, key: keyFile } = opensslCsr(w, name, 'P-256');
    const body = w.write(`${name}.json`, JSON.stringify({ token: t.body.tokens[0], csr: csrPem }));
    const r = await curl(['--cacert', w.file('chain.pem'), '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`]);
    expect(r.http).toBe(201);
    const j = JSON.parse(r.stdout);
    return { deviceId: j.deviceId as string, file: w.write(`${name}.pem`, j.certificate), keyFile };
  }

  async function download(p: string, name: string): Promise<string> {
    const res = await fetch(`${s.urls.operator}${p}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pkix-crl');
    const der = w.write(`${name}.der`, Buffer.from(await res.arrayBuffer()));
    return w.write(`${name}.pem`, openssl(['crl', '-inform', 'DER', '-in', der]).stdout);
  }

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    key = (await createTenant(s.api, 'manufacturer')).key;
    productId = (await createProduct(s.api, key)).id;
    const chain = (await s.api.get('/pki/ca')).body as string;
    w.write('chain.pem', chain);
    const certs = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    interFile = w.write('intermediate.pem', certs[0]);
    rootFile = w.write('root.pem', certs[1]);
    good = await enrollOne('good');
    revoked = await enrollOne('revoked');
    expect((await s.api.post(`/api/v1/devices/${revoked.deviceId}/revoke`, { reason: 'keyCompromise' }, key)).status).toBe(200);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  it('the issuing CA certificate names /pki/root-crl as its CRL distribution point, device certificates name /pki/crl and the OCSP responder', () => {
    const inter = openssl(['x509', '-in', interFile, '-noout', '-ext', 'crlDistributionPoints']).stdout;
    expect(inter).toContain(`URI:${s.urls.operator.replace('127.0.0.1', 'localhost')}/pki/root-crl`);
    const device = openssl(['x509', '-in', good.file, '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess']).stdout;
    expect(device).toContain('/pki/crl');
    expect(device).toMatch(/OCSP - URI:http:\/\/localhost:\d+\/pki\/ocsp/);
    expect(openssl(['x509', '-in', good.file, '-noout', '-ocsp_uri']).stdout.trim()).toMatch(/\/pki\/ocsp$/);
  });

  it('openssl verify -crl_check_all with both CRLs: OK for a good device, "certificate revoked" for a revoked one, and needs the root CRL', async () => {
    const rootCrl = await download('/pki/root-crl', 'root-crl');
    const crl = await download('/pki/crl', 'crl');
    const text = openssl(['crl', '-in', rootCrl, '-noout', '-text']).stdout;
    expect(text).toContain('Issuer: O = Fleetguard, CN = Fleetguard Device Root CA');
    expect(text).toContain('No Revoked Certificates');
    // The root CRL is signed by the root.
    expect(openssl(['crl', '-in', rootCrl, '-noout', '-CAfile', rootFile]).stderr).toContain('verify OK');
    const args = ['verify', '-crl_check_all', '-CAfile', rootFile, '-untrusted', interFile, '-CRLfile', rootCrl, '-CRLfile', crl];
    expect(openssl([...args, good.file]).stdout).toContain(': OK');
    const bad = openssl([...args, revoked.file]);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('certificate revoked');
    // Without the root's CRL, a full chain check cannot pass: the root CRL is what makes it work.
    const noRoot = openssl(['verify', '-crl_check_all', '-CAfile', rootFile, '-untrusted', interFile, '-CRLfile', crl, good.file]);
    expect(noRoot.status).not.toBe(0);
    expect(noRoot.stdout + noRoot.stderr).toContain('unable to get certificate CRL');
    expect((await s.api.get('/pki/root-crl.pem')).body).toContain('-----BEGIN X509 CRL-----');
  });

  it('the root CRL is served on the device listener too', async () => {
    const r = await curl(['--cacert', w.file('chain.pem'), '-o', w.file('dl.der'), `${s.urls.device}/pki/root-crl`]);
    expect(r.http).toBe(200);
    expect(openssl(['crl', '-inform', 'DER', '-in', w.file('dl.der'), '-noout', '-issuer']).stdout).toContain('Root CA');
    expect(fs.statSync(w.file('dl.der')).size).toBeGreaterThan(100);
  });
});
