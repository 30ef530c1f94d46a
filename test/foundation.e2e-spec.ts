import { DataSource } from 'typeorm';
import { ADMIN_KEY, FULL_TARGET, TestService, createProduct, createTenant, startTestService } from './support/service';

describe('foundation: tenants, keys, products, audit (in-process service)', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('serves health, readiness, metrics and the OpenAPI document without a key', async () => {
    expect((await s.api.get('/health/live')).body).toEqual({ status: 'ok' });
    expect((await s.api.get('/health/ready')).body).toMatchObject({ status: 'ok', database: 'up' });
    const metrics = await s.api.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('fleetguard_http_requests_total');
    const docs = await s.api.get('/docs-json');
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/v1/products', '/api/v1/organizations']));
  });

  it('keeps each tenant to its own products (another tenant\'s is 404)', async () => {
    const a = await createTenant(s.api, 'manufacturer');
    const b = await createTenant(s.api, 'manufacturer');
    const pa = await createProduct(s.api, a.key, { name: 'Alpha PLC' });
    const pb = await createProduct(s.api, b.key, { name: 'Beta PLC' });
    const listA = await s.api.get('/api/v1/products', a.key);
    expect(listA.body.map((p: { id: string }) => p.id)).toEqual([pa.id]);
    const listB = await s.api.get('/api/v1/products', b.key);
    expect(listB.body.map((p: { id: string }) => p.id)).toEqual([pb.id]);
    expect((await s.api.get(`/api/v1/products/${pb.id}`, a.key)).status).toBe(404);
    expect((await s.api.get(`/api/v1/products/${pa.id}`, a.key)).body).toMatchObject({ name: 'Alpha PLC', componentType: 'EDR', targetLevels: FULL_TARGET });
  });

  it('enforces roles: a manufacturer cannot create organizations, an auditor cannot write', async () => {
    const m = await createTenant(s.api, 'manufacturer');
    const denied = await s.api.post('/api/v1/organizations', { name: 'sneaky', kind: 'operator' }, m.key);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ statusCode: 403, error: 'Forbidden', message: expect.stringContaining('admin') });
    const auditor = await createTenant(s.api, 'manufacturer', ['auditor']);
    const write = await s.api.post('/api/v1/products', { name: 'x', componentType: 'EDR', declaredRequirements: [], targetLevels: FULL_TARGET }, auditor.key);
    expect(write.status).toBe(403);
    expect((await s.api.get('/api/v1/audit/verify', auditor.key)).status).toBe(200);
  });

  it('refuses an operator role on a manufacturer organization', async () => {
    const org = await s.api.post('/api/v1/organizations', { name: 'Role Mix Inc', kind: 'manufacturer' }, ADMIN_KEY);
    const key = await s.api.post('/api/v1/api-keys', { organizationId: org.body.id, roles: ['operator'] }, ADMIN_KEY);
    expect(key.status).toBe(400);
    expect(key.body.message).toContain('operator');
  });

  it('answers 401 for a missing, unknown or revoked key', async () => {
    expect((await s.api.get('/api/v1/products')).status).toBe(401);
    expect((await s.api.get('/api/v1/products', 'fg_0123456789abcdef_notarealsecretnotarealsecret')).status).toBe(401);
    const m = await createTenant(s.api, 'manufacturer');
    expect((await s.api.get('/api/v1/products', m.key)).status).toBe(200);
    expect((await s.api.request('DELETE', `/api/v1/api-keys/${m.keyId}`, { key: ADMIN_KEY })).status).toBe(204);
    const after = await s.api.get('/api/v1/products', m.key);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  describe('bad input is a 4xx with the reason, and nothing is written', () => {
    let key: string;
    const valid = { name: 'Valid PLC', componentType: 'EDR', declaredRequirements: ['CR 1.1'], targetLevels: FULL_TARGET };
    beforeAll(async () => {
      key = (await createTenant(s.api, 'manufacturer')).key;
    });
    const cases: Array<[string, unknown, RegExp]> = [
      ['an unknown field', { ...valid, name: 'u1', owner: 'me' }, /unknown properties are not accepted/],
      ['a wrong type', { ...valid, name: 42 }, /name must be a string/],
      ['an unknown component type', { ...valid, name: 'u2', componentType: 'XYZ' }, /componentType must be one of/],
      ['a target level of 5', { ...valid, name: 'u3', targetLevels: { ...FULL_TARGET, FR3: 5 } }, /targetLevels\.FR3 must not be greater than 4/],
      ['a missing target level', { ...valid, name: 'u4', targetLevels: { FR1: 1 } }, /targetLevels\.FR2/],
      ['a malformed requirement id', { ...valid, name: 'u5', declaredRequirements: ['CR 1.1; DROP TABLE products'] }, /declared requirement must look like/],
      ['an unknown requirement id', { ...valid, name: 'u6', declaredRequirements: ['CR 9.9'] }, /catalog has no item/],
      ['a SQL-looking name', { ...valid, name: "x'); DROP TABLE products; --" }, /name may hold/],
      ['an array body', [valid], /./],
    ];
    it.each(cases)('%s', async (_what, body, reason) => {
      const res = await s.api.post('/api/v1/products', body, key);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toMatch(reason);
      expect((await s.api.get('/api/v1/products', key)).body).toEqual([]);
    });

    it('malformed JSON', async () => {
      const res = await s.api.request('POST', '/api/v1/products', { key, raw: '{"name": "x",', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/malformed JSON/);
    });

    it('an oversized body', async () => {
      const res = await s.api.request('POST', '/api/v1/products', { key, raw: JSON.stringify({ ...valid, name: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, message: 'request body too large' });
      expect((await s.api.get('/api/v1/products', key)).body).toEqual([]);
    });

    it('a malformed id in the path', async () => {
      const res = await s.api.get("/api/v1/products/1' OR '1'='1", key);
      expect(res.status).toBe(400);
    });

    it('an unknown route is a JSON 404', async () => {
      const res = await s.api.get('/api/v1/nothing-here', key);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });
  });

  it('records every write in a hash chain that verifies, and names a row altered in the database', async () => {
    const m = await createTenant(s.api, 'manufacturer');
    await createProduct(s.api, m.key, { name: 'Audited PLC' });
    await s.api.post('/api/v1/products', { nonsense: true }, m.key); // a refused write is recorded too
    const log = await s.api.get('/api/v1/audit?limit=1000', ADMIN_KEY);
    const actions = log.body.entries.map((e: { action: string; outcome: string }) => `${e.action} ${e.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(['POST /api/v1/organizations 201', 'POST /api/v1/api-keys 201', 'POST /api/v1/products 201', 'POST /api/v1/products 400']));
    const ok = await s.api.get('/api/v1/audit/verify', ADMIN_KEY);
    expect(ok.body).toMatchObject({ ok: true });
    expect(ok.body.entries).toBe(log.body.entries.length);

    const ds = s.app.get(DataSource);
    await ds.query(`UPDATE audit_log SET outcome = '200' WHERE seq = 2`);
    const broken = await s.api.get('/api/v1/audit/verify', ADMIN_KEY);
    expect(broken.body).toMatchObject({ ok: false, brokenAt: 2, reason: expect.stringContaining('altered') });
  });
});
