import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { TestService, createProduct, createTenant, startTestService } from './support/service';
import { Workdir, curl, openssl, opensslCsr } from './support/openssl';

/** openssl run asynchronously: the service under test lives in this process and must keep answering. */
function opensslAsync(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

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

  describe('OCSP (RFC 6960) with openssl ocsp as the client', () => {
    const ocspUrl = () => `${s.urls.operator}/pki/ocsp`;
    const base = () => ['ocsp', '-issuer', interFile, '-url', ocspUrl(), '-CAfile', rootFile];

    it('good, with the nonce checked and the signature verified against the chain', async () => {
      const r = await opensslAsync([...base(), '-cert', good.file, '-resp_text']);
      expect(r.out).toContain('Response verify OK');
      expect(r.out).toContain(`${good.file}: good`);
      expect(r.out).toMatch(/Cert Status: good/);
      expect(r.out).toContain('OCSP Nonce');
      expect(r.out).not.toContain('WARNING: no nonce');
      expect(r.out).toMatch(/Responder Id: [0-9A-F]{40}/);
      expect(r.out).toMatch(/Next Update:/);
    });

    it('revoked, with the reason and the time of the revocation', async () => {
      const r = await opensslAsync([...base(), '-cert', revoked.file]);
      expect(r.out).toContain('Response verify OK');
      expect(r.out).toContain(`${revoked.file}: revoked`);
      expect(r.out).toContain('Reason: keyCompromise');
      const time = new Date(/Revocation Time: (.+)/.exec(r.out)![1]);
      expect(Math.abs(time.getTime() - Date.now())).toBeLessThan(10 * 60_000);
    });

    it('unknown for a serial this CA never issued, and for a certificate of another issuer', async () => {
      const r = await opensslAsync([...base(), '-serial', '0x0123456789abcdef0123456789abcdef']);
      expect(r.out).toContain('Response verify OK');
      expect(r.out).toMatch(/0x0123456789abcdef0123456789abcdef: unknown/i);
      // Asking about a certificate of another CA (the root as issuer): our issuer hashes do not match.
      const other = await opensslAsync(['ocsp', '-issuer', rootFile, '-cert', good.file, '-url', ocspUrl(), '-CAfile', rootFile, '-no_cert_verify']);
      expect(other.out).toContain(': unknown');
    });

    it('several certificates in one request, SHA-256 CertIDs, and no nonce when none is asked', async () => {
      const r = await opensslAsync([...base(), '-sha256', '-cert', good.file, '-cert', revoked.file, '-no_nonce']);
      expect(r.out).toContain('Response verify OK');
      expect(r.out).toContain(`${good.file}: good`);
      expect(r.out).toContain(`${revoked.file}: revoked`);
    });

    it('GET /pki/ocsp/<base64> answers the same request, on the device listener as well', async () => {
      const reqFile = w.file('req.der');
      const made = await opensslAsync(['ocsp', '-issuer', interFile, '-cert', revoked.file, '-reqout', reqFile]);
      expect(made.code).toBe(0);
      const b64 = encodeURIComponent(fs.readFileSync(reqFile).toString('base64'));
      for (const [name, url, extra] of [['op', `${s.urls.operator}/pki/ocsp/${b64}`, []], ['dev', `${s.urls.device}/pki/ocsp/${b64}`, ['--cacert', w.file('chain.pem')]]] as const) {
        const respFile = w.file(`resp-${name}.der`);
        const r = await curl([...extra, '-o', respFile, url]);
        expect(r.http).toBe(200);
        const v = await opensslAsync(['ocsp', '-reqin', reqFile, '-respin', respFile, '-CAfile', rootFile, '-resp_text']);
        expect(v.out).toContain('Response verify OK');
        expect(v.out).toContain('Cert Status: revoked');
        expect(v.out).toContain('OCSP Nonce');
      }
    });

    it('a malformed request gets malformedRequest (an OCSPResponse, not an HTTP error)', async () => {
      for (const body of [Buffer.from('not der'), Buffer.alloc(0), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])]) {
        const res = await fetch(ocspUrl(), { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/ocsp-response');
        const file = w.write('bad-resp.der', Buffer.from(await res.arrayBuffer()));
        const text = await opensslAsync(['ocsp', '-respin', file, '-resp_text', '-noverify']);
        expect(text.out).toMatch(/malformedrequest \(0?x?1\)/);
      }
      // A path that is not even URL-decodable is refused by the router with a 400; base64 that is not a request gets malformedRequest.
      expect([200, 400]).toContain((await fetch(`${ocspUrl()}/%%%`)).status);
      const junk = await fetch(`${ocspUrl()}/${encodeURIComponent(Buffer.from('junk request').toString('base64'))}`);
      expect(junk.status).toBe(200);
      expect(Buffer.from(await junk.arrayBuffer())).toEqual(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
      const big = await fetch(ocspUrl(), { method: 'POST', body: Buffer.alloc(100_000, 0x30) });
      expect(big.status).toBe(200);
    });
  });
});
