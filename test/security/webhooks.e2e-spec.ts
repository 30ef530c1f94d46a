import * as http from 'node:http';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { TestService, createTenant, startTestService } from '../support/service';
import { productWithRelease } from '../support/fleet-fixture';
import { Workdir, curl, opensslCsr } from '../support/openssl';

jest.setTimeout(120_000);

/** A receiver on a loopback address that records what it gets. */
async function receiver(host: string, status = 204) {
  const got: Array<{ url: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ url: req.url ?? '', body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as { port: number }).port;
  return { got, port, url: (p = '/hook') => `http://${host}:${port}${p}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Finding 4 (MEDIUM): webhook SSRF, retries after deletion, unbounded deliveries per event. */
describe('security: webhook targets', () => {
  let s: TestService;
  let w: Workdir;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let cafile: string;
  const secret = 'a-long-enough-hmac-secret';

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
    w = new Workdir();
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    cafile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  async function revokeNewDevice(name: string) {
    const [token] = await fixture.tokens(1);
    const { csrPem } = opensslCsr(w, name, 'P-256');
    const body = w.write(`${name}.json`, JSON.stringify({ token, csr: csrPem }));
    const out = JSON.parse((await curl(['--cacert', cafile, '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`])).stdout);
    expect((await s.api.post(`/api/v1/devices/${out.deviceId}/revoke`, { reason: 'keyCompromise' }, operator.key)).status).toBe(200);
  }

  async function clearHooks() {
    for (const h of (await s.api.get('/api/v1/webhooks', operator.key)).body) await s.api.request('DELETE', `/api/v1/webhooks/${h.id}`, { key: operator.key });
  }

  it.each([
    ['link-local metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', 'http://[::1]:8080/'],
    ['private', 'http://10.0.0.1/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['unique-local', 'http://[fd12::1]/'],
    ['decimal loopback not allowlisted (127.0.0.2)', 'http://2130706434/'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:7f00:2]/'],
  ])('refuses a %s target at registration (400)', async (_name, url) => {
    const r = await s.api.post('/api/v1/webhooks', { url, secret, events: ['device.revoked'] }, operator.key);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'webhook.forbidden-target' });
  });

  it("refuses the service's own listeners even on an allowlisted address", async () => {
    for (const port of [s.ports.http, s.ports.device]) {
      const r = await s.api.post('/api/v1/webhooks', { url: `http://127.0.0.1:${port}/api/v1/devices`, secret, events: ['device.revoked'] }, operator.key);
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/own listeners/);
    }
  });

  it('checks again at delivery: a hook whose target turned internal (DNS rebinding) receives nothing', async () => {
    const inner = await receiver('127.0.0.2');
    try {
      // As if it had resolved to a public address at registration: written straight to the table.
      await s.app.get(DataSource).query(`INSERT INTO webhooks (id, organization_id, url, secret, events) VALUES ($1, $2, $3, $4, '["device.revoked"]'::jsonb)`, [randomUUID(), operator.orgId, inner.url(), secret]);
      await revokeNewDevice('rebind');
      await sleep(1500);
      expect(inner.got).toHaveLength(0);
    } finally {
      await inner.close();
      await s.app.get(DataSource).query('DELETE FROM webhooks WHERE organization_id = $1', [operator.orgId]);
    }
  });

  it('a deleted hook is not retried', async () => {
    const failing = await receiver('127.0.0.1', 503);
    try {
      const hook = await s.api.post('/api/v1/webhooks', { url: failing.url(), secret, events: ['device.revoked'] }, operator.key);
      expect(hook.status).toBe(201);
      await revokeNewDevice('deleted');
      for (let i = 0; i < 50 && failing.got.length === 0; i++) await sleep(100);
      expect(failing.got).toHaveLength(1);
      expect((await s.api.request('DELETE', `/api/v1/webhooks/${hook.body.id}`, { key: operator.key })).status).toBe(204);
      await sleep(3500); // the first retry is due after 0.75..1.25 s, the second after 1.5..2.5 s more
      expect(failing.got).toHaveLength(1);
    } finally {
      await failing.close();
      await clearHooks();
    }
  });

  it('one event goes to at most 10 hooks', async () => {
    const ok = await receiver('127.0.0.1');
    try {
      for (let i = 0; i < 15; i++) expect((await s.api.post('/api/v1/webhooks', { url: ok.url(`/hook/${i}`), secret, events: ['device.revoked'] }, operator.key)).status).toBe(201);
      await revokeNewDevice('many-hooks');
      await sleep(2000);
      expect(ok.got).toHaveLength(10);
    } finally {
      await ok.close();
      await clearHooks();
    }
  });
});
