import { randomBytes } from 'node:crypto';
import { ADMIN_KEY, TestService, createTenant, startTestService } from './support/service';
import { Workdir, curl } from './support/openssl';

jest.setTimeout(180_000);

/**
 * Bad input gets a 4xx with a reason, never a 500: every route of the OpenAPI document, and every
 * device route, is sent garbage (no body, wrong JSON, random bytes, hostile path parameters) with
 * keys of each role. Any 5xx fails, naming the request.
 */
describe('no route answers garbage with a 5xx', () => {
  let s: TestService;
  let w: Workdir;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    keys.admin = ADMIN_KEY;
    keys.manufacturer = (await createTenant(s.api, 'manufacturer')).key;
    keys.operator = (await createTenant(s.api, 'operator')).key;
    keys.auditor = (await createTenant(s.api, 'operator', ['auditor'])).key;
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  const PARAMS = ['00000000-0000-0000-0000-000000000000', "1' OR '1'='1", '%00', 'x'.repeat(300), '..%2F..%2Fetc%2Fpasswd', '-1'];
  const BODIES: Array<[string, string | Buffer | undefined, string]> = [
    ['no body', undefined, 'application/json'],
    ['an array', '[1,2,3]', 'application/json'],
    ['wrong types', JSON.stringify({ name: 42, componentType: [], count: 'many', url: {}, events: 'x', publicKey: 7, reason: null, token: 1, csr: 2, evidence: 3 }), 'application/json'],
    ['deep nesting', '{"a":'.repeat(2000) + '1' + '}'.repeat(2000), 'application/json'],
    ['random bytes', randomBytes(2048), 'application/octet-stream'],
    ['malformed JSON', '{"name": ', 'application/json'],
    ['NUL characters', JSON.stringify({ name: 'a\u0000b', label: '\u0000', url: 'http://x/\u0000', secret: 'x\u0000'.repeat(10), reason: 'keyCompromise\u0000', token: 'fget_\u0000', csr: '\u0000', evidence: 'a.b.\u0000', publicKey: '\u0000' }), 'application/json'],
  ];

  it('the operator API', async () => {
    const doc = (await s.api.get('/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const failures: string[] = [];
    let requests = 0;
    for (const [template, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const paths = template.includes('{') ? PARAMS.map((p) => template.replace(/\{[^}]+\}/g, p)) : [template];
        for (const p of paths) {
          for (const [role, key] of Object.entries(keys)) {
            for (const [what, body, type] of method === 'get' || method === 'delete' ? BODIES.slice(0, 1) : BODIES) {
              const res = await s.api.request(method.toUpperCase(), p, { key, raw: body, headers: body === undefined ? {} : { 'content-type': type } });
              requests++;
              if (res.status >= 500) failures.push(`${method.toUpperCase()} ${p} as ${role} with ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
              else if (res.status >= 400) expect(res.body).toMatchObject({ statusCode: res.status, message: expect.any(String) });
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(500);
    expect(failures).toEqual([]);
  });

  it('the device listener', async () => {
    const cafile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
    const routes = [
      ['POST', '/enroll'],
      ['POST', '/.well-known/est/simpleenroll'],
      ['POST', '/.well-known/est/00000000-0000-0000-0000-000000000000/simpleenroll'],
      ['POST', "/.well-known/est/1'--/simpleenroll"],
      ['POST', '/.well-known/est/simplereenroll'],
      ['POST', '/attestation/challenge'],
      ['POST', '/attestation/evidence'],
      ['POST', '/devices/self/hardening'],
      ['GET', '/.well-known/est/cacerts'],
      ['GET', '/nothing/here'],
    ];
    const failures: string[] = [];
    for (const [method, p] of routes) {
      for (const [what, body, type] of BODIES) {
        const file = body === undefined ? undefined : w.write(`b-${Math.random()}`, body);
        const args = ['--cacert', cafile, '-X', method, '-H', `content-type: ${type}`, '-u', 'x:fget_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'];
        if (file) args.push('--data-binary', `@${file}`);
        const r = await curl([...args, `${s.urls.device}${p}`]);
        if (r.http >= 500 || r.http === 0) failures.push(`${method} ${p} with ${what}: ${r.http} ${r.stdout.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
