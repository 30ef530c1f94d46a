import * as http from 'node:http';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { parseConfig } from '@fleetguard/common';
import { buildDataSourceOptions } from '@fleetguard/persistence/nest';
import { createRootLogger } from '@fleetguard/platform/nest';
import { EventBusService } from '@fleetguard/events/nest';
import { verifyWebhookSignature } from '@fleetguard/events';
import { RunningService, startService } from '../../apps/fleet-server/src/bootstrap';
import { Api, createTenant } from '../support/service';
import { faultEnv, faultWorkspace } from './support/evidence-load';

jest.setTimeout(300_000);

const SECRET = 'fault-test-webhook-secret-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Hit {
  at: number;
  delivery: string;
  attempt: number;
  path: string;
  body: string;
  signature: string;
  signed: boolean;
}

/** A receiver on loopback whose answer the test chooses: a status, or never (hang). */
async function receiver(secrets: string[] = [SECRET]) {
  const hits: Hit[] = [];
  let mode: number | 'hang' = 204;
  let open = 0;
  let maxOpen = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const signed = secrets.some((s) => verifyWebhookSignature(s, body, String(req.headers['x-fleetguard-signature'])));
      const signature = String(req.headers['x-fleetguard-signature']);
      hits.push({ at: Date.now(), delivery: String(req.headers['x-fleetguard-delivery']), attempt: Number(req.headers['x-fleetguard-attempt']), path: req.url ?? '', body, signature, signed });
      if (mode === 'hang') return; // never answers
      res.writeHead(mode).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    open++;
    maxOpen = Math.max(maxOpen, open);
    s.on('close', () => {
      sockets.delete(s);
      open--;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    hits,
    url: `http://127.0.0.1:${port}/hook`,
    set: (m: number | 'hang') => (mode = m),
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    ok: () => new Set(hits.filter((h) => h.signed).map((h) => h.delivery)),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function publish(app: RunningService['app'], orgId: string, n: number): string[] {
  const bus = app.get(EventBusService);
  return Array.from({ length: n }, (_, i) => bus.publish('device.revoked', { deviceId: `dev-${i}`, audience: [orgId], data: { status: 'revoked', reason: 'keyCompromise', revokedSerials: [`serial-${i}`] } }).id);
}

async function metric(api: Api, line: RegExp): Promise<number | undefined> {
  const text = (await api.get('/metrics')).body as string;
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : undefined;
}

/** The service in this process (the tests publish on its bus and read its tables), as configured by faultEnv. */
async function startInProcess(env: Record<string, string>): Promise<RunningService & { api: Api }> {
  const config = parseConfig({ FLEETGUARD_ENV: 'test', ...env });
  const svc = await startService(config, createRootLogger(config.logLevel));
  return { ...svc, api: new Api(svc.urls.operator) };
}

/** Issue 12 item 7: webhooks survive a restart, a hanging receiver is bounded, a failing one backs off, trips its breaker and is dead-lettered. */
describe('faults: webhooks', () => {
  // One temp dir (a data and certs dir per service below it) and, on the PostgreSQL pass, a fresh database per service.
  const { dir, database } = faultWorkspace('fg-fault-hooks-');

  describe('one service', () => {
    let s: RunningService & { api: Api };
    let operator: Awaited<ReturnType<typeof createTenant>>;

    beforeAll(async () => {
      s = await startInProcess(
        faultEnv(path.join(dir, 'one'), {
          ...(await database()),
          // the tests read the breaker and outbox gauges from /metrics
          FLEETGUARD_METRICS_PUBLIC: 'true',
          FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        FLEETGUARD_WEBHOOK_TIMEOUT_MS: '1000',
        FLEETGUARD_WEBHOOK_BACKOFF_BASE_MS: '200',
        FLEETGUARD_WEBHOOK_BACKOFF_MAX_SECONDS: '1',
        FLEETGUARD_WEBHOOK_RETRY_HORIZON_SECONDS: '30',
        FLEETGUARD_WEBHOOK_BREAKER_FAILURES: '3',
        FLEETGUARD_WEBHOOK_BREAKER_OPEN_SECONDS: '1.5',
        FLEETGUARD_WEBHOOK_CONCURRENCY_PER_RECEIVER: '4',
        }),
      );
      operator = await createTenant(s.api, 'operator');
    });
    afterAll(async () => {
      await s?.close();
    });

    async function hook(url: string, key = operator.key) {
      const r = await s.api.post('/api/v1/webhooks', { url, secret: SECRET, events: ['device.revoked'] }, key);
      expect(r.status).toBe(201);
      return r.body.id as string;
    }
    async function clearHooks() {
      for (const h of (await s.api.get('/api/v1/webhooks', operator.key)).body) await s.api.request('DELETE', `/api/v1/webhooks/${h.id}`, { key: operator.key });
    }

    it('keeps secrets sealed in the table and never returns them', async () => {
      const r = await receiver();
      try {
        const created = await s.api.post('/api/v1/webhooks', { url: r.url, secret: SECRET, events: ['device.revoked'] }, operator.key);
        expect(created.status).toBe(201);
        expect(JSON.stringify(created.body)).not.toContain(SECRET);
        expect(created.body).not.toHaveProperty('secret');
        expect(JSON.stringify((await s.api.get('/api/v1/webhooks', operator.key)).body)).not.toContain(SECRET);
        const rows: Array<Record<string, unknown>> = await s.app.get(DataSource).query('SELECT * FROM webhooks WHERE id = $1', [created.body.id]);
        expect(rows).toHaveLength(1);
        expect(JSON.stringify(rows)).not.toContain(SECRET);
        expect(rows[0].secret).toBeNull();
        expect(String(rows[0].secret_sealed)).toMatch(/^v1\.[0-9a-f]{8}\./);
        // ...and yet deliveries are signed with it.
        publish(s.app, operator.orgId, 1);
        await until('a signed delivery', () => r.hits.length > 0);
        expect(r.hits[0].signed).toBe(true);
      } finally {
        await r.close();
        await clearHooks();
      }
    });

    it('a hanging receiver holds a bounded number of sockets and does not hold up another receiver', async () => {
      const hanging = await receiver();
      hanging.set('hang');
      const healthy = await receiver();
      try {
        await hook(hanging.url);
        await hook(healthy.url);
        global.gc?.();
        const rss0 = process.memoryUsage().rss;
        const ids = publish(s.app, operator.orgId, 300);
        await until('all 300 at the healthy receiver', () => healthy.ok().size >= 300, 120_000).catch(async (e) => {
          const rows = await s.app.get(DataSource).query(`SELECT w.url, d.status, count(*)::int AS n, max(d.attempts) AS a, max(d.last_error) AS err FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id GROUP BY 1, 2`);
          throw new Error(`${(e as Error).message}: healthy got ${healthy.hits.length} (${healthy.ok().size} signed), hanging ${hanging.hits.length}; ${JSON.stringify(rows)}`);
        });
        expect(healthy.ok().size).toBe(300);
        // the issue saw 2,223 sockets for one hanging receiver; here its concurrency (4) bounds them
        expect(hanging.maxOpen).toBeLessThanOrEqual(8);
        expect(hanging.hits.length).toBeLessThan(30);
        expect(process.memoryUsage().rss - rss0).toBeLessThan(150 * 1024 * 1024);
        // the hanging receiver's deliveries are still owed (pending) or given up (dead), never lost;
        // its breaker opened: far fewer attempts than deliveries
        const ds = s.app.get(DataSource);
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.url = $1`, [hanging.url]);
        expect(n).toBe(ids.length);
      } finally {
        await hanging.close();
        await healthy.close();
        await clearHooks();
      }
    });

    it('a failing receiver: backoff, breaker, dead letter after the horizon, redelivery from the API', async () => {
      const failing = await receiver();
      failing.set(503);
      try {
        const id = await hook(failing.url);
        const [eventId] = publish(s.app, operator.orgId, 1);
        let breakerSeen = 0;
        const list = async () => (await s.api.get(`/api/v1/webhooks/${id}/deliveries`, operator.key)).body as Array<Record<string, any>>;
        const dead = await until(
          'the delivery to be dead',
          async () => {
            breakerSeen = Math.max(breakerSeen, (await metric(s.api, /^fleetguard_webhook_breakers_open /)) ?? 0);
            const [d] = await list();
            return d?.status === 'dead' ? d : undefined;
          },
          120_000,
        );
        expect(JSON.parse(failing.hits[0].body)).toMatchObject({ id: eventId, type: 'device.revoked' });
        const at = failing.hits.map((h) => h.at);
        const gaps = at.slice(1).map((t, i) => t - at[i]);
        // 200 ms then 400 ms (±25 %): exponential. Only lower bounds: a loaded machine adds the claim
        // and attempt latency to every gap (seen: 532 ms, then 460 ms on PostgreSQL at load 12), so
        // comparing two gaps measures that noise. The second gap's floor (300 ms) is above the first's
        // ceiling (250 ms): a backoff that does not grow fails it on a quiet machine.
        expect(gaps[0]).toBeGreaterThanOrEqual(140);
        expect(gaps[1]).toBeGreaterThanOrEqual(290);
        // three failures open the breaker for 1.5 s, longer than the 800 ms backoff
        expect(gaps[2]).toBeGreaterThanOrEqual(1400);
        expect(breakerSeen).toBeGreaterThanOrEqual(1);
        // 30 s horizon: without the breaker ≈ 30 attempts (1 s apart at most); with it (1.5 s open, doubling after each failed probe) at most 7
        expect(failing.hits.length).toBeLessThanOrEqual(7);
        expect(dead).toMatchObject({ eventId, eventType: 'device.revoked', status: 'dead', attempts: failing.hits.length, lastStatus: 503, lastError: 'HTTP 503' });
        expect(new Set(failing.hits.map((h) => h.delivery))).toEqual(new Set([dead.id]));
        expect(failing.hits.map((h) => h.attempt)).toEqual(failing.hits.map((_, i) => i + 1));
        await until('the dead gauge', async () => ((await metric(s.api, /^fleetguard_webhook_outbox_deliveries\{status="dead"\}/)) ?? 0) >= 1, 15_000);
        expect((await s.api.get(`/api/v1/webhooks/${id}/deliveries?status=dead`, operator.key)).body).toHaveLength(1);
        expect((await s.api.get(`/api/v1/webhooks/${id}/deliveries?status=bogus`, operator.key)).status).toBe(400);

        // Another tenant sees none of it; an unknown delivery is a 404; a dead one is redelivered once.
        const other = await createTenant(s.api, 'operator');
        expect((await s.api.get(`/api/v1/webhooks/${id}/deliveries`, other.key)).status).toBe(404);
        expect((await s.api.post(`/api/v1/webhooks/${id}/deliveries/${dead.id}/redeliver`, {}, other.key)).status).toBe(404);
        expect((await s.api.post(`/api/v1/webhooks/${id}/deliveries/${randomUUID()}/redeliver`, {}, operator.key)).status).toBe(404);
        failing.set(204);
        const again = await s.api.post(`/api/v1/webhooks/${id}/deliveries/${dead.id}/redeliver`, {}, operator.key);
        expect(again.status).toBe(202);
        expect(again.body).toMatchObject({ id: dead.id, status: 'pending', attempts: 0 });
        await until('the redelivery', async () => (await list())[0]?.status === 'delivered');
        expect(failing.hits.at(-1)).toMatchObject({ delivery: dead.id, signed: true });
        const conflict = await s.api.post(`/api/v1/webhooks/${id}/deliveries/${dead.id}/redeliver`, {}, operator.key);
        expect(conflict.status).toBe(409);
        expect(conflict.body).toMatchObject({ code: 'webhook.delivery-not-dead' });
      } finally {
        await failing.close();
        await clearHooks();
      }
    });
  });

  it('deliveries pending retries when the service stops are delivered after it starts again (a secret stored in clear by an old version is sealed then)', async () => {
    const legacySecret = 'legacy-clear-secret-0123456789';
    const r = await receiver([SECRET, legacySecret]);
    r.set(503);
    // The same environment (data dir, certs, database) for both boots.
    const env = faultEnv(path.join(dir, 'restart'), {
      ...(await database()),
      FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      FLEETGUARD_WEBHOOK_BACKOFF_BASE_MS: '1000',
      FLEETGUARD_WEBHOOK_BACKOFF_MAX_SECONDS: '2',
      FLEETGUARD_WEBHOOK_BREAKER_FAILURES: '1000',
    });
    const config = parseConfig({ FLEETGUARD_ENV: 'test', ...env });
    let svc: (RunningService & { api: Api }) | undefined;
    try {
      svc = await startInProcess(env);
      const api = svc.api;
      const operator = await createTenant(api, 'operator');
      expect((await api.post('/api/v1/webhooks', { url: r.url, secret: SECRET, events: ['device.revoked'] }, operator.key)).status).toBe(201);
      const events = publish(svc.app, operator.orgId, 40);
      await until('a first attempt of every delivery', () => new Set(r.hits.map((h) => h.delivery)).size >= 40);
      await svc.close();
      svc = undefined;
      // While it is down: a hook as an earlier version stored it (the secret in clear), with deliveries owed.
      const legacyId = randomUUID();
      const offline = new DataSource(buildDataSourceOptions({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
      await offline.initialize();
      try {
        expect(await offline.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`)).toEqual([{ n: 40 }]);
        await offline.query(`INSERT INTO webhooks (id, organization_id, url, secret, events) VALUES ($1, $2, $3, $4, '["device.revoked"]'::jsonb)`, [legacyId, operator.orgId, `${r.url}/legacy`, legacySecret]);
        await offline.query(
          `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, receiver, payload, expires_at)
           SELECT gen_random_uuid(), $1, event_id, event_type, receiver, payload, expires_at FROM webhook_deliveries`,
          [legacyId],
        );
      } finally {
        await offline.destroy();
      }
      r.set(204);
      const before = r.hits.length;
      svc = await startInProcess(env);
      const ds = svc.app.get(DataSource);
      await until('all 80 delivered after the restart', async () => {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`);
        return n === 80;
      });
      expect(r.hits.length).toBeGreaterThan(before);
      const after = r.hits.slice(before);
      // each signed with its own hook's secret: the legacy one opened after the boot sealed it
      for (const h of after) expect(verifyWebhookSignature(h.path.endsWith('/legacy') ? legacySecret : SECRET, h.body, h.signature)).toBe(true);
      expect(after.filter((h) => h.path.endsWith('/legacy'))).toHaveLength(40);
      expect(new Set(after.map((h) => h.delivery)).size).toBe(80);
      expect(new Set(after.map((h) => JSON.parse(h.body).id))).toEqual(new Set(events));
      expect(r.hits.every((h) => h.signed)).toBe(true);
      const [legacy] = await ds.query('SELECT secret, secret_sealed FROM webhooks WHERE id = $1', [legacyId]);
      expect(legacy.secret).toBeNull();
      expect(String(legacy.secret_sealed)).not.toContain(legacySecret);
    } finally {
      await svc?.close();
      await r.close();
    }
  });
});
