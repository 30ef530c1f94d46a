import * as fs from 'node:fs';
import { TestService, createProduct, createTenant, startTestService } from './support/service';
import { Workdir, curl, openssl, opensslCsr } from './support/openssl';

/** EST as RFC 7030 and RFC 7235 spell it, with curl sending exactly the RFC's headers and reading back the raw ones. */
describe('EST conformance (RFC 7030): challenges and content types', () => {
  let s: TestService;
  let w: Workdir;
  let key: string;
  let productId: string;
  let caFile: string;

  /** curl with the response headers written to a file; returns status, headers (lower-cased names) and body. */
  async function est(args: string[]) {
    const headersFile = w.file(`h-${Math.random()}.txt`);
    const r = await curl(['--cacert', caFile, '-D', headersFile, ...args]);
    const raw = fs.readFileSync(headersFile, 'utf8');
    const headers: Record<string, string> = {};
    for (const line of raw.split(/\r\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { http: r.http, headers, body: r.stdout };
  }

  async function token(): Promise<string> {
    const t = await s.api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count: 1, expiresInSeconds: 3600 }, key);
    expect(t.status).toBe(201);
    return t.body.tokens[0];
  }

  function csrBody(name: string): { file: string; keyFile: string } {
    const { csrPem, key: keyFile } = opensslCsr(w, name, 'P-256');
    // RFC 7030 4.2.1: the body is the base64 DER PKCS#10, with Content-Transfer-Encoding: base64.
    return { file: w.write(`${name}.b64`, Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')), keyFile };
  }
  const RFC_HEADERS = ['-H', 'Content-Type: application/pkcs10', '-H', 'Content-Transfer-Encoding: base64'];

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    key = (await createTenant(s.api, 'manufacturer')).key;
    productId = (await createProduct(s.api, key)).id;
    caFile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  it('simpleenroll without credentials: 401 with a Basic challenge naming the realm; then with them, a certs-only PKCS#7 in exactly the RFC content type', async () => {
    const { file } = csrBody('e1');
    const url = `${s.urls.device}/.well-known/est/simpleenroll`;
    const challenged = await est([...RFC_HEADERS, '--data-binary', `@${file}`, url]);
    expect(challenged.http).toBe(401);
    expect(challenged.headers['www-authenticate']).toMatch(/^Basic realm="fleetguard-est"/);
    // A wrong token is also answered with the challenge.
    const wrong = await est([...RFC_HEADERS, '-u', 'device:not-a-token', '--data-binary', `@${file}`, url]);
    expect(wrong.http).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic realm=/);

    // curl --anyauth first sends no credentials and answers the challenge: what libest does.
    const ok = await est([...RFC_HEADERS, '--anyauth', '-u', `device:${await token()}`, '--data-binary', `@${file}`, url]);
    expect(ok.http).toBe(200);
    expect(ok.headers['content-type']).toBe('application/pkcs7-mime; smime-type=certs-only');
    expect(ok.headers['content-transfer-encoding']).toBe('base64');
    const p7 = w.write('e1.p7', Buffer.from(ok.body, 'base64'));
    expect(openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs', '-noout']).stdout).toMatch(/subject=CN\s*=\s*fg-/);
  });

  it('cacerts is application/pkcs7-mime and csrattrs application/csrattrs, with no charset parameter', async () => {
    const cacerts = await est([`${s.urls.device}/.well-known/est/cacerts`]);
    expect(cacerts.http).toBe(200);
    expect(cacerts.headers['content-type']).toBe('application/pkcs7-mime');
    expect(cacerts.headers['content-transfer-encoding']).toBe('base64');
    const certs = openssl(['pkcs7', '-inform', 'DER', '-in', w.write('ca.p7', Buffer.from(cacerts.body, 'base64')), '-print_certs', '-noout']).stdout;
    expect(certs).toContain('Issuing CA');
    expect(certs).toContain('Root CA');
    const attrs = await est([`${s.urls.device}/.well-known/est/csrattrs`]);
    expect(attrs.http).toBe(200);
    expect(attrs.headers['content-type']).toBe('application/csrattrs');
    expect(openssl(['asn1parse', '-inform', 'DER', '-in', w.write('attrs.der', Buffer.from(attrs.body, 'base64'))]).status).toBe(0);
  });

  it('simplereenroll without a client certificate: 401 with the challenge', async () => {
    const { file } = csrBody('e2');
    const r = await est([...RFC_HEADERS, '--data-binary', `@${file}`, `${s.urls.device}/.well-known/est/simplereenroll`]);
    expect(r.http).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Basic realm="fleetguard-est"/);
    expect(JSON.parse(r.body).statusCode).toBe(401);
  });

  it('malformed Basic credentials are a 401 with the challenge, never a 500', async () => {
    const { file } = csrBody('e3');
    for (const h of ['Basic', 'Basic !!!', 'Basic ' + 'A'.repeat(5000), 'Bearer x', 'Basic ' + Buffer.from('no-colon').toString('base64')]) {
      const r = await est([...RFC_HEADERS, '-H', `Authorization: ${h}`, '--data-binary', `@${file}`, `${s.urls.device}/.well-known/est/simpleenroll`]);
      expect([r.http, h.slice(0, 20)]).toEqual([401, h.slice(0, 20)]);
      expect(r.headers['www-authenticate']).toMatch(/^Basic /);
    }
  });

  // What Cisco's libest client (estclient) sends and checks, read from its source (src/est/
  // est_client.c, est_client_http.c; not run here: CI cannot fetch or build it): TLS at most 1.2;
  // `Accept: */*`, `Content-Type: application/pkcs10` and no Content-Transfer-Encoding; credentials
  // only after a `WWW-Authenticate: Basic` challenge; with PoP, the CSR carries a challengePassword
  // (the TLS tls-unique value). It compares header names case-sensitively (`WWW-Authenticate`,
  // `Content-Type`, `Content-Length`), needs Content-Length, and the enroll answer's type to start
  // with `application/pkcs7-mime; smime-type=certs-only`.
  it("libest's requests, with the headers estclient writes, enroll and re-enroll (TLS 1.2, PoP challengePassword, header names as libest compares them)", async () => {
    const LIBEST = ['--http1.1', '--tls-max', '1.2', '-H', 'Accept: */*', '-H', 'Content-Type: application/pkcs10', '-H', 'Connection: close', '-A', 'libest 3.2.0'];
    const rawNames = (file: string) => fs.readFileSync(file, 'utf8').split(/\r\n/).slice(1).map((l) => l.slice(0, l.indexOf(':'))).filter(Boolean);
    const withPop = (name: string, cn: string) => {
      const keyFile = w.file(`${name}.key`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
      const cnf = w.write(`${name}.cnf`, `[req]\ndistinguished_name=dn\nattributes=attr\nprompt=no\n[dn]\nCN=${cn}\n[attr]\nchallengePassword=dGxzLXVuaXF1ZS1vZi10aGUtc2Vzc2lvbg==\n`);
      const csr = w.file(`${name}.csr`);
      openssl(['req', '-new', '-key', keyFile, '-config', cnf, '-outform', 'DER', '-out', csr]);
      return { keyFile, body: w.write(`${name}.b64`, fs.readFileSync(csr).toString('base64')) };
    };
    const url = `${s.urls.device}/.well-known/est/simpleenroll`;
    const { keyFile, body } = withPop('libest1', 'anything');

    const h1 = w.file('libest-h1.txt');
    const first = await curl(['--cacert', caFile, '-D', h1, ...LIBEST, '--data-binary', `@${body}`, url]);
    expect(first.http).toBe(401);
    expect(rawNames(h1)).toContain('WWW-Authenticate');

    const h2 = w.file('libest-h2.txt');
    const enrolled = await curl(['--cacert', caFile, '-D', h2, ...LIBEST, '-u', `estuser:${await token()}`, '--data-binary', `@${body}`, url]);
    expect(enrolled.http).toBe(200);
    expect(rawNames(h2)).toEqual(expect.arrayContaining(['Content-Type', 'Content-Length']));
    const headers = Object.fromEntries(fs.readFileSync(h2, 'utf8').split(/\r\n/).slice(1).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    expect(headers['content-type'].startsWith('application/pkcs7-mime; smime-type=certs-only')).toBe(true);
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(enrolled.stdout));
    expect(headers['transfer-encoding']).toBeUndefined();
    const certPem = openssl(['pkcs7', '-inform', 'DER', '-in', w.write('libest1.p7', Buffer.from(enrolled.stdout, 'base64')), '-print_certs']).stdout;
    const deviceId = /subject=CN\s*=\s*(fg-[0-9a-f]+)/.exec(certPem)![1];
    const certFile = w.write('libest1.crt', certPem);

    // re-enroll: the client certificate authenticates; libest sends no credentials here
    const again = withPop('libest2', deviceId);
    const h3 = w.file('libest-h3.txt');
    const renewed = await curl(['--cacert', caFile, '-D', h3, ...LIBEST, '--cert', certFile, '--key', keyFile, '--data-binary', `@${again.body}`, `${s.urls.device}/.well-known/est/simplereenroll`]);
    expect(renewed.http).toBe(200);
    expect(rawNames(h3)).toEqual(expect.arrayContaining(['Content-Type', 'Content-Length']));
    expect(openssl(['pkcs7', '-inform', 'DER', '-in', w.write('libest2.p7', Buffer.from(renewed.stdout, 'base64')), '-print_certs', '-noout']).stdout).toContain(deviceId);
  });
});
