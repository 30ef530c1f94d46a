import { createHash } from 'node:crypto';
import { ADMIN_KEY, TestService, createTenant, startTestService } from '../support/service';

/**
 * Finding 1 (HIGH): a property name holding a lone UTF-16 surrogate was echoed by the validation
 * message into the audit entry's jsonb details; PostgreSQL refused it and the whole flushed batch
 * (other tenants' entries included) was rolled back, while /audit/verify still said ok.
 */
describe('security: audit entries cannot be dropped by caller text', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('a lone-surrogate property name is refused (400, name not echoed) and every concurrent write keeps its entry', async () => {
    // JSON.stringify writes the lone surrogate as the escape \ud800, which JSON.parse accepts.
    const poison = (i: number) => JSON.stringify({ name: `poison-${i}`, kind: 'operator', [`\ud800evil${i}`]: 1 });
    const [good, bad] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, i) => s.api.post('/api/v1/organizations', { name: `legit-${i}-${Date.now()}`, kind: 'operator' }, ADMIN_KEY))),
      Promise.all(Array.from({ length: 10 }, (_, i) => s.api.request('POST', '/api/v1/organizations', { key: ADMIN_KEY, raw: poison(i), headers: { 'content-type': 'application/json' } }))),
    ]);
    expect(good.map((r) => r.status)).toEqual(Array(20).fill(201));
    for (const r of bad) {
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/unknown properties are not accepted/);
      expect(r.body.message).not.toMatch(/evil/);
    }
    const log = await s.api.get('/api/v1/audit?limit=1000', ADMIN_KEY);
    expect(log.status).toBe(200);
    const resources: string[] = log.body.entries.map((e: { resource: string }) => e.resource);
    for (const g of good) expect(resources).toContain(`/api/v1/organizations#${g.body.id}`);
    const refused = log.body.entries.filter((e: { outcome: string; action: string }) => e.outcome === '400' && e.action === 'POST /api/v1/organizations');
    expect(refused).toHaveLength(10);
    const verify = await s.api.get('/api/v1/audit/verify', ADMIN_KEY);
    expect(verify.body).toMatchObject({ ok: true });
    expect(verify.body.entries).toBe(log.body.entries.length);
  });

  it('a path too long for the resource column, and surrogate-laden values, are still audited', async () => {
    const { key } = await createTenant(s.api, 'operator');
    const del = await s.api.request('DELETE', `/api/v1/api-keys/${'a'.repeat(3000)}`, { key: ADMIN_KEY });
    expect(del.status).toBe(404);
    const r = await s.api.post('/api/v1/webhooks', { url: 'https://hooks.example.com/x', secret: 's'.repeat(20), events: ['\udc00attestation.failed'] }, key);
    expect(r.status).toBe(400);
    const verify = await s.api.get('/api/v1/audit/verify', ADMIN_KEY);
    expect(verify.body).toMatchObject({ ok: true });
    const log = await s.api.get('/api/v1/audit?limit=1000', ADMIN_KEY);
    const [delEntry, hookEntry] = log.body.entries.slice(-2);
    expect(delEntry).toMatchObject({ action: 'DELETE /api/v1/api-keys/:id', outcome: '404' });
    expect(delEntry.resource.length).toBeLessThanOrEqual(500);
    expect(hookEntry).toMatchObject({ action: 'POST /api/v1/webhooks', outcome: '400' });
    expect(JSON.stringify(hookEntry)).not.toMatch(/\\ud[89abcdef]/i);
  });

  it("a tenant's auditor reads only its own tenant's entries (finding 5); the system auditor reads all", async () => {
    const a = await createTenant(s.api, 'operator', ['operator', 'auditor']);
    const b = await createTenant(s.api, 'operator', ['operator']);
    await s.api.post('/api/v1/webhooks', { url: 'https://hooks.example.com/a', secret: 's'.repeat(20), events: ['attestation.failed'] }, a.key);
    await s.api.post('/api/v1/webhooks', { url: 'https://hooks.example.com/b', secret: 's'.repeat(20), events: ['attestation.failed'] }, b.key);
    const mine = await s.api.get('/api/v1/audit?limit=1000', a.key);
    expect(mine.status).toBe(200);
    expect(mine.body.entries.length).toBeGreaterThan(0);
    for (const e of mine.body.entries) expect(e.organizationId).toBe(a.orgId);
    const all = await s.api.get('/api/v1/audit?limit=1000', ADMIN_KEY);
    expect(all.body.entries.some((e: { organizationId: string }) => e.organizationId === b.orgId)).toBe(true);
    // the admin key's id is not in another tenant's view, and is no longer sha256(key)[:16]
    const adminActor = all.body.entries[0].actor as string;
    expect(JSON.stringify(mine.body)).not.toContain(adminActor);
    expect(adminActor).toMatch(/^key:[0-9a-f]{16}$/);
    expect(adminActor).not.toBe(`key:${createHash('sha256').update(ADMIN_KEY).digest('hex').slice(0, 16)}`);
  });

  it.each(['99999999999999999999', '-1', '1e9', 'abc'])('after=%s is a 400, not a 500', async (after) => {
    const r = await s.api.get(`/api/v1/audit?after=${after}`, ADMIN_KEY);
    expect(r.status).toBe(400);
  });

  it('a security counter up to 2^32 - 1 (what MCUboot and manifests allow) is stored, not a 500', async () => {
    const { key } = await createTenant(s.api, 'manufacturer');
    const r = await s.api.post('/api/v1/products', { name: `big-counter-${Date.now()}`, componentType: 'EDR', declaredRequirements: ['CR 1.1'], targetLevels: { FR1: 1, FR2: 1, FR3: 1, FR4: 1, FR5: 1, FR6: 1, FR7: 1 }, minSecurityCounter: 2 ** 32 - 1 }, key);
    expect(r.status).toBe(201);
    expect((await s.api.get(`/api/v1/products/${r.body.id}`, key)).body.minSecurityCounter).toBe(2 ** 32 - 1);
  });
});
