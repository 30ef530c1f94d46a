import { createCsrPem, generateDeviceKey } from '../../apps/device-sim/src/device-key.generator';
import { TestService, createProduct, createTenant, grantEnrollment, startTestService } from '../support/service';
import { postDevice } from '../support/device-http';

/**
 * Finding 5 (second half): a manufacturer could put its devices into any operator's fleet without
 * that operator's consent. Now the operator issues an enrollment grant and tokens name it.
 */
describe('security: operator consent for device assignment', () => {
  let s: TestService;
  let ca: string;
  let mfr: { orgId: string; key: string };
  let other: { orgId: string; key: string };
  let op: { orgId: string; key: string };
  let op2: { orgId: string; key: string };
  let product: { id: string };
  let otherProduct: { id: string };

  beforeAll(async () => {
    s = await startTestService();
    ca = (await s.api.get('/pki/ca')).body;
    [mfr, other, op, op2] = [await createTenant(s.api, 'manufacturer'), await createTenant(s.api, 'manufacturer'), await createTenant(s.api, 'operator'), await createTenant(s.api, 'operator')];
    product = await createProduct(s.api, mfr.key);
    otherProduct = await createProduct(s.api, mfr.key);
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
  });

  const mint = (body: Record<string, unknown>, key = mfr.key, productId = product.id) => s.api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count: 1, expiresInSeconds: 600, ...body }, key);
  const enroll = async (token: string) => postDevice(`${s.urls.device}/enroll`, { token, csr: await createCsrPem(await generateDeviceKey('P-256')) }, ca);
  const fleetOf = async (key: string) => ((await s.api.get('/api/v1/devices?limit=500', key)).body.items as Array<{ id: string }>).map((d) => d.id);

  it('the exploit: tokens naming an operator that never consented are refused (403), and nothing lands in its fleet', async () => {
    const r = await mint({ operatorOrganizationId: op.orgId, count: 5 });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('enrollment-grant.required');
    expect(r.body.message).toMatch(/consent/);
    expect(await fleetOf(op.key)).toEqual([]);
  });

  it("a grant lets the manufacturer's devices in, up to its size; they are the operator's", async () => {
    const grant = await s.api.post('/api/v1/enrollment-grants', { manufacturerOrganizationId: mfr.orgId, productId: product.id, maxDevices: 2, expiresInSeconds: 3600 }, op.key);
    expect(grant.status).toBe(201);
    expect(grant.body).toMatchObject({ operatorOrganizationId: op.orgId, manufacturerOrganizationId: mfr.orgId, maxDevices: 2, usedDevices: 0 });
    const t = await mint({ grantId: grant.body.id, count: 2 });
    expect(t.status).toBe(201);
    const enrolled = await Promise.all(t.body.tokens.map(enroll));
    expect(enrolled.map((e) => e.status)).toEqual([201, 201]);
    expect((await fleetOf(op.key)).sort()).toEqual(enrolled.map((e) => e.body.deviceId).sort());
    expect(await fleetOf(op2.key)).toEqual([]);
    const more = await mint({ grantId: grant.body.id });
    expect(more.status).toBe(409);
    expect(more.body.code).toBe('enrollment-grant.exhausted');
    const listed = await s.api.get('/api/v1/enrollment-grants', op.key);
    expect(listed.body.find((g: { id: string }) => g.id === grant.body.id)).toMatchObject({ usedDevices: 2 });
    expect((await s.api.get('/api/v1/enrollment-grants', mfr.key)).body.map((g: { id: string }) => g.id)).toContain(grant.body.id);
    expect((await s.api.get('/api/v1/enrollment-grants', op2.key)).body).toEqual([]);
    expect((await s.api.get('/api/v1/enrollment-grants', other.key)).body).toEqual([]);
  }, 60_000);

  it("another manufacturer, another product, another operator's id: refused without spending the grant", async () => {
    const grantId = await grantEnrollment(s.api, op.key, mfr.orgId, { productId: product.id, maxDevices: 5 });
    const otherP = await createProduct(s.api, other.key);
    expect((await mint({ grantId }, other.key, otherP.id)).status).toBe(404); // not the grant's manufacturer: as if absent
    expect((await mint({ grantId }, mfr.key, otherProduct.id)).body.code).toBe('enrollment-grant.other-product');
    expect((await mint({ grantId, operatorOrganizationId: op2.orgId })).body.code).toBe('enrollment-grant.other-operator');
    expect((await mint({ grantId, operatorOrganizationId: op.orgId })).status).toBe(201);
    expect((await s.api.post('/api/v1/enrollment-grants', { manufacturerOrganizationId: op2.orgId, maxDevices: 1, expiresInSeconds: 60 }, op.key)).status).toBe(404);
    expect((await s.api.post('/api/v1/enrollment-grants', { manufacturerOrganizationId: mfr.orgId, maxDevices: 1, expiresInSeconds: 60 }, mfr.key)).status).toBe(403);
  }, 60_000);

  it('a withdrawn grant stops its unused tokens (403, token still unused); only its operator can withdraw it', async () => {
    const grantId = await grantEnrollment(s.api, op.key, mfr.orgId, { maxDevices: 5 });
    const t = await mint({ grantId, count: 2 });
    expect((await enroll(t.body.tokens[0])).status).toBe(201);
    expect((await s.api.request('DELETE', `/api/v1/enrollment-grants/${grantId}`, { key: op2.key })).status).toBe(404);
    expect((await s.api.request('DELETE', `/api/v1/enrollment-grants/${grantId}`, { key: op.key })).status).toBe(204);
    const refused = await enroll(t.body.tokens[1]);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('enrollment-grant.withdrawn');
    expect((await mint({ grantId })).body.code).toBe('enrollment-grant.withdrawn');
  }, 60_000);

  it('racing enrollments cannot overspend a grant: 3 tokens, room for 1, exactly one device', async () => {
    const grantId = await grantEnrollment(s.api, op.key, mfr.orgId, { productId: product.id, maxDevices: 1 });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push(...(await mint({ grantId })).body.tokens);
    const results = await Promise.all(tokens.map(enroll));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 403).map((r) => r.body.code)).toEqual(['enrollment-grant.exhausted', 'enrollment-grant.exhausted']);
    const g = (await s.api.get('/api/v1/enrollment-grants', op.key)).body.find((x: { id: string }) => x.id === grantId);
    expect(g.usedDevices).toBe(1);
  }, 90_000);

  it('a token without a grant enrolls a device with no operator', async () => {
    const before = await fleetOf(op.key);
    const t = await mint({});
    const r = await enroll(t.body.tokens[0]);
    expect(r.status).toBe(201);
    expect(await fleetOf(op.key)).toEqual(before);
  }, 60_000);
});
