import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import { ValidationPipe } from '@nestjs/common';
import { TestService, createProduct, createTenant, mintTokens, startTestService } from './support/service';
import { Workdir, openssl, opensslCsr } from './support/openssl';

jest.setTimeout(180_000);

/**
 * POST /enroll's fast paths (issue 18): plain bodies are answered ahead of Nest's router
 * (libs/fleet enrollment.fast-route.ts), device-shaped CSRs are read without the schema parser
 * (libs/pki device-csr.reader.ts). Both must be invisible to a device: the same certificate
 * profile as the paths they bypass (openssl x509 -text and asn1parse, openssl verify), the same
 * headers, the same errors; and mutated CSRs only ever get a 4xx.
 */
describe('POST /enroll: the fast paths answer as the full ones', () => {
  let s: TestService;
  let w: Workdir;
  let key: string;
  let productId: string;
  let ca: string;
  let rootFile: string;
  let interFile: string;
  /** Calls of the global ValidationPipe on EnrollDto: the Nest route validates, the fast route does not run it. */
  let validatedEnrollBodies = 0;

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    key = (await createTenant(s.api, 'manufacturer')).key;
    productId = (await createProduct(s.api, key)).id;
    ca = (await s.api.get('/pki/ca')).body;
    const [inter, root] = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    interFile = w.write('intermediate.pem', inter);
    rootFile = w.write('root.pem', root);
    const transform = ValidationPipe.prototype.transform;
    jest.spyOn(ValidationPipe.prototype, 'transform').mockImplementation(function (this: ValidationPipe, value, metadata) {
      if (metadata.metatype?.name === 'EnrollDto') validatedEnrollBodies++;
      return transform.call(this, value, metadata);
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await s?.stop();
    w?.cleanup();
  });

  /** POST /enroll as a device does; the raw text lets a test send exactly what it means. */
  function post(body: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any; text: string }> {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const u = new URL(`${s.urls.device}/enroll`);
    return new Promise((resolve, reject) => {
      const req = https.request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined, text }));
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Posts `body`, and says whether the Nest route (and its validation) answered it. */
  async function postCounting(body: unknown) {
    const before = validatedEnrollBodies;
    const r = await post(body);
    return { ...r, viaNest: validatedEnrollBodies > before };
  }

  const token = async () => (await mintTokens(s.api, key, productId, 1))[0];

  /** The profile of a certificate, as openssl prints it, without what differs between two devices. */
  function profileText(pem: string): string {
    const f = w.write(`c-${randomBytes(4).toString('hex')}.pem`, pem);
    const text = openssl(['x509', '-in', f, '-text', '-noout']).stdout;
    return text
      .replace(/(Serial Number:\s*)[0-9a-f:\s]+?(\n\s+Signature Algorithm)/, '$1<serial>$2')
      .replace(/(Not (?:Before|After) *: ).*/g, '$1<time>')
      .replace(/fg-[0-9a-f]{16}/g, '<device>')
      .replace(/(pub:\s*)[0-9a-f:\s]+(\n\s+ASN1 OID)/, '$1<point>$2')
      .replace(/(Subject Key Identifier:\s*)[0-9A-F:]+/, '$1<ski>')
      .replace(/(Signature Value:\s*)[0-9a-f:\s]+$/, '$1<signature>');
  }

  /** The DER structure (offsets, lengths, tags, OIDs and fixed values) of the certificate's TBSCertificate, its varying values masked. */
  function tbsStructure(pem: string): string {
    const f = w.write(`c-${randomBytes(4).toString('hex')}.pem`, pem);
    const out = openssl(['asn1parse', '-in', f, '-strparse', '4']).stdout;
    return out
      .replace(/fg-[0-9a-f]{16}/g, '<device>')
      .replace(/66672D(?:3[0-9]|6[1-6]){16}/g, '<device, hex>') // "fg-" and 16 hex digits, in the SAN's dump
      .replace(/(INTEGER\s+:)[0-9A-F]{20,}/, '$1<serial>')
      .replace(/(UTCTIME\s+:)\d+Z/g, '$1<time>')
      .replace(/(OCTET STRING\s+\[HEX DUMP\]:)0414[0-9A-F]{40}/, '$1<ski>');
  }

  function expectVerified(pem: string): void {
    const f = w.write(`v-${randomBytes(4).toString('hex')}.pem`, pem);
    const v = openssl(['verify', '-CAfile', rootFile, '-untrusted', interFile, '-purpose', 'sslclient', f]);
    expect(`${v.stdout}${v.stderr}`.trim()).toBe(`${f}: OK`);
  }

  it('issues the same certificate profile on the fast route and the Nest route, with the fast CSR reader and the schema parser', async () => {
    // Device-shaped CSRs take the fast reader; one asking for extensions (an attribute) takes the schema parser.
    const plainCsr = () => opensslCsr(w, `plain-${randomBytes(3).toString('hex')}`, 'P-256', '/CN=pending').csrPem;
    const withAttribute = () => {
      const k = w.file(`attr-${randomBytes(3).toString('hex')}.key`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', k]);
      return openssl(['req', '-new', '-key', k, '-subj', '/CN=pending', '-addext', 'subjectAltName=DNS:ignored.example']).stdout;
    };
    const cases = [
      { name: 'fast route, fast reader', body: async () => ({ token: await token(), csr: plainCsr() }), nest: false },
      { name: 'fast route, schema parser', body: async () => ({ token: await token(), csr: withAttribute() }), nest: false },
      // A body with an optional field is validated and answered by EnrollmentController, as before.
      { name: 'Nest route, fast reader', body: async () => ({ token: await token(), csr: plainCsr(), productId }), nest: true },
      { name: 'Nest route, schema parser (the path before issue 18)', body: async () => ({ token: await token(), csr: withAttribute(), productId }), nest: true },
    ];
    const issued: Array<{ name: string; certificate: string; headers: string[] }> = [];
    for (const c of cases) {
      const r = await postCounting(await c.body());
      expect({ name: c.name, status: r.status, viaNest: r.viaNest }).toEqual({ name: c.name, status: 201, viaNest: c.nest });
      expect(Object.keys(r.body)).toEqual(['deviceId', 'certificate', 'chain']);
      expect(r.body.chain).toBe(ca);
      expectVerified(r.body.certificate);
      issued.push({ name: c.name, certificate: r.body.certificate, headers: Object.keys(r.headers).filter((h) => !['date', 'etag', 'content-length', 'x-request-id'].includes(h)).sort() });
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers.etag).toMatch(/^W\/"/);
    }
    const [reference, ...others] = issued;
    for (const o of others) {
      expect({ name: o.name, text: profileText(o.certificate) }).toEqual({ name: o.name, text: profileText(reference.certificate) });
      expect({ name: o.name, der: tbsStructure(o.certificate) }).toEqual({ name: o.name, der: tbsStructure(reference.certificate) });
      expect({ name: o.name, headers: o.headers }).toEqual({ name: o.name, headers: reference.headers });
    }
    // The masks hide only what differs per device: the profile itself is all there.
    expect(profileText(reference.certificate)).toMatch(/CA:FALSE[\s\S]*Digital Signature[\s\S]*TLS Web Client Authentication[\s\S]*URI:urn:fleetguard:device:<device>[\s\S]*CRL Distribution Points[\s\S]*OCSP - URI/);
    expect(reference.headers).toEqual(expect.arrayContaining(['cache-control', 'content-type', 'strict-transport-security', 'x-content-type-options']));
  });

  it('refuses on the fast route with the same status and body as on the Nest route', async () => {
    const csr = opensslCsr(w, 'refusals', 'P-256').csrPem;
    const pairs: Array<[string, (t: string) => Record<string, unknown>]> = [
      ['an unknown token', () => ({ token: 'fget_' + 'a'.repeat(43), csr })],
      ['a token that is no token', () => ({ token: 'not-a-token', csr })],
      ['a CSR that is not one', (t) => ({ token: t, csr: 'hello' })],
      ['a CSR with a flipped signature byte', (t) => ({ token: t, csr: flipLastByte(csr) })],
    ];
    for (const [what, make] of pairs) {
      const t = await token();
      const fast = await postCounting(make(t));
      const nest = await postCounting({ ...make(t), productId });
      expect({ what, viaNest: [fast.viaNest, nest.viaNest] }).toEqual({ what, viaNest: [false, true] });
      expect({ what, status: fast.status, body: fast.body }).toEqual({ what, status: nest.status, body: nest.body });
      expect(fast.status).toBeGreaterThanOrEqual(400);
      expect(fast.status).toBeLessThan(500);
    }
    // A used token: 409 on both.
    const t = await token();
    expect((await post({ token: t, csr })).status).toBe(201);
    const again = await postCounting({ token: t, csr });
    const againNest = await postCounting({ token: t, csr, productId });
    expect([again.viaNest, againNest.viaNest]).toEqual([false, true]);
    expect({ status: again.status, body: again.body }).toEqual({ status: 409, body: againNest.body });
  });

  it('leaves every other body to EnrollmentController, which validates as before', async () => {
    const csr = opensslCsr(w, 'others', 'P-256').csrPem;
    const t = await token();
    for (const [what, body, status] of [
      ['an unknown property', { token: t, csr, extra: 1 }, 400],
      ['a token longer than 200', { token: 'x'.repeat(201), csr }, 400],
      ['an empty token', { token: '', csr }, 400],
      ['a number for the CSR', { token: t, csr: 7 }, 400],
      ['a non-ASCII token', { token: 'tökén', csr }, 401],
      ['a CSR with a non-ASCII character', { token: t, csr: csr.replace('\n', '\né') }, 400],
      ['no CSR', { token: t }, 400],
      ['an array', [t, csr], 400],
    ] as const) {
      const r = await postCounting(body);
      expect({ what, status: r.status, viaNest: r.viaNest }).toEqual({ what, status, viaNest: true });
      expect(r.body).toMatchObject({ statusCode: status, message: expect.any(String) });
    }
    // The token survived every refusal above (the CSR is checked before a token is spent).
    expect((await post({ token: t, csr })).status).toBe(201);
  });

  it('is not served on the operator listener', async () => {
    const r = await s.api.post('/enroll', { token: await token(), csr: opensslCsr(w, 'operator', 'P-256').csrPem });
    expect(r.status).toBe(404);
  });

  it('answers 400 to every one of hundreds of mutated CSRs, never a 5xx, and the token stays usable (fuzz)', async () => {
    const { csrPem } = opensslCsr(w, 'fuzz', 'P-256', '/CN=fuzzed-device/O=Fuzz');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    let t = await token();
    const seen: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(der);
      const edits = 1 + (i % 3);
      for (let e = 0; e < edits; e++) m[randomBytes(2).readUInt16BE() % m.length] ^= 1 + (randomBytes(1)[0] % 255);
      const cut = i % 7 === 0 ? m.subarray(0, randomBytes(2).readUInt16BE() % m.length) : m;
      const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${cut.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
      const r = await post({ token: t, csr: pem });
      // A mutation that kept a valid request would be issued (none is expected: any change breaks the signature or the DER).
      if (r.status === 201) {
        t = await token();
        continue;
      }
      seen[`${r.status} ${r.body?.code}`] = (seen[`${r.status} ${r.body?.code}`] ?? 0) + 1;
      expect({ i, status: r.status }).toEqual({ i, status: 400 });
      expect(r.body.code).toMatch(/^csr\./);
    }
    expect(Object.keys(seen).length).toBeGreaterThan(0);
    expect((await post({ token: t, csr: csrPem })).status).toBe(201);
  });
});

function flipLastByte(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 1] ^= 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
