import * as fs from 'node:fs';
import * as path from 'node:path';
import * as https from 'node:https';
import { ADMIN_KEY, TestService, createTenant, startTestService } from '../support/service';

/** GET over the device listener (HTTPS, the service's own chain). */
function deviceGet(s: TestService, p: string, ca: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = https.get(s.urls.device + p, { ca }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

/** The hardening gaps of the security review: headers, listeners, 500s on extreme input, files. */
describe('security: hardening gaps', () => {
  let s: TestService;
  let ca: string;
  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_METRICS_PUBLIC: 'false' });
    ca = (await s.api.get('/pki/ca')).body;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('/metrics and /docs are not on the device listener; /metrics needs an admin or auditor key', async () => {
    expect((await deviceGet(s, '/metrics', ca)).status).toBe(404);
    expect((await deviceGet(s, '/docs', ca)).status).toBe(404);
    expect((await deviceGet(s, '/docs/', ca)).status).toBe(404);
    expect((await s.api.get('/metrics')).status).toBe(401);
    const { key } = await createTenant(s.api, 'operator');
    expect((await s.api.get('/metrics', key)).status).toBe(403);
    const ok = await s.api.get('/metrics', ADMIN_KEY);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('fleetguard_mqtt_rejections_total');
  });

  it('HSTS on the device listener; nosniff everywhere; no-store on API JSON; a CSP on the docs UI', async () => {
    const dev = await deviceGet(s, '/pki/ca', ca);
    expect(dev.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(dev.headers['x-content-type-options']).toBe('nosniff');
    const api = await s.api.get('/api/v1/catalog', ADMIN_KEY);
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('cache-control')).toBe('no-store');
    const docs = await fetch(`${s.urls.operator}/docs`, { redirect: 'follow' });
    expect(docs.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    const page = await fetch(`${s.urls.operator}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });

  it.each([['-271821-04-20T00:00:00Z'], ['+275760-09-13T00:00:00Z'], ['99999-01-01T00:00:00Z']])('an extreme date (%s) is a 400, not a 500', async (before) => {
    const { key } = await createTenant(s.api, 'operator');
    const r = await s.api.get(`/api/v1/devices/fg-0123456789abcdef/attestations?before=${encodeURIComponent(before)}`, key);
    expect(r.status).toBe(400);
  });

  it('100,000 nested arrays in a body are a 4xx, not a 500 (no stack overflow)', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const p of ['/api/v1/organizations', '/api/v1/webhooks']) {
      const r = await s.api.request('POST', p, { key: ADMIN_KEY, raw: `{"name":${deep},"kind":"operator","url":${deep}}`, headers: { 'content-type': 'application/json' } });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect((await s.api.get('/api/v1/audit/verify', ADMIN_KEY)).body).toMatchObject({ ok: true });
  });

  it('the embedded database directory is 0700 and its files are not readable or writable by others (finding 8)', () => {
    const data = s.config.dataDir;
    if (s.config.databaseUrl) return; // PostgreSQL server: no embedded files
    expect(fs.statSync(data).mode & 0o777).toBe(0o700);
    const pg = path.join(data, 'pglite');
    expect(fs.statSync(pg).mode & 0o777).toBe(0o700);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    const files = walk(pg);
    expect(files.length).toBeGreaterThan(10);
    // no file anyone else may write (the exploit: insert an admin key hash); the directory keeps out readers
    expect(files.filter((f) => fs.statSync(f).mode & 0o022)).toEqual([]);
  });
});
