import { TestService, createTenant, startTestService } from '../support/service';
import { productWithRelease } from '../support/fleet-fixture';
import { Workdir, curl, openssl, opensslCsr } from '../support/openssl';

jest.setTimeout(120_000);

/** Finding 6 (MEDIUM): EST renewal accepted a superseded certificate, and raced. */
describe('security: EST renewal', () => {
  let s: TestService;
  let w: Workdir;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let caFile: string;

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    const operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    caFile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  async function enroll(name: string) {
    const [token] = await fixture.tokens(1);
    const { key, csrPem } = opensslCsr(w, name, 'P-256');
    const body = w.write(`${name}.json`, JSON.stringify({ token, csr: csrPem }));
    const out = JSON.parse((await curl(['--cacert', caFile, '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`])).stdout);
    return { id: out.deviceId as string, key, cert: w.write(`${name}.crt`, out.certificate) };
  }

  function renewal(name: string, cn: string) {
    const r = opensslCsr(w, name, 'P-256', `/CN=${cn}`);
    return { key: r.key, body: w.write(`${name}.b64`, Buffer.from(r.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')) };
  }

  const reenroll = (cert: string, key: string, body: string) =>
    curl(['--cacert', caFile, '--cert', cert, '--key', key, '--data-binary', `@${body}`, '-H', 'Content-Type: application/pkcs10', `${s.urls.device}/.well-known/est/simplereenroll`]);

  it('a superseded certificate (a stolen old key) cannot renew after the device rotated', async () => {
    const d = await enroll('rotating');
    const first = renewal('rotating-1', d.id);
    const r1 = await reenroll(d.cert, d.key, first.body);
    expect(r1.http).toBe(200);
    const newCert = w.write('rotating-new.crt', openssl(['pkcs7', '-inform', 'DER', '-in', w.write('r1.der', Buffer.from(r1.stdout, 'base64')), '-print_certs']).stdout);
    // the thief still holds the old certificate and key
    const stolen = renewal('rotating-2', d.id);
    expect((await reenroll(d.cert, d.key, stolen.body)).http).toBe(401);
    // the device, with its current certificate, still renews
    expect((await reenroll(newCert, first.key, renewal('rotating-3', d.id).body)).http).toBe(200);
  });

  it('10 parallel renewals with one certificate give one certificate', async () => {
    const d = await enroll('racing');
    const bodies = Array.from({ length: 10 }, (_, i) => renewal(`racing-${i}`, d.id).body);
    const results = await Promise.all(bodies.map((b) => reenroll(d.cert, d.key, b)));
    expect(results.filter((r) => r.http === 200)).toHaveLength(1);
    expect(results.filter((r) => r.http === 401)).toHaveLength(9);
  });
});
