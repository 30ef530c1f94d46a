import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { parseConfig } from '@fleetguard/common';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { TEST_PG_URL, testDatabase } from '../../../../test/support/test-database';
import { verifyWebhookSignature } from '../core/webhook-signature';
import { WebhookEntity } from '../entities/webhook.entity';
import { WebhookOutboxService } from './webhook-outbox.service';
import { WebhookSecretsService } from './webhook-secrets.service';
import { WebhookTargetService } from './webhook-target.service';
import { WebhooksService } from './webhooks.service';

jest.setTimeout(120_000);

const SECRET = 'outbox-int-spec-secret-0123';

/**
 * Two delivery workers on one database (two connection pools on PostgreSQL, one data source on
 * PGlite, which has a single connection): every delivery reaches its receiver exactly once with
 * a 2xx, although the receiver fails one attempt in five.
 */
describe('webhook outbox: two workers on one database', () => {
  let dsA: DataSource;
  let dsB: DataSource;
  let drop: () => Promise<void>;
  let server: http.Server;
  let port: number;
  const ok = new Map<string, number>();
  let failed = 0;
  let badSignatures = 0;
  let concurrent = 0;
  let maxConcurrent = 0;

  beforeAll(async () => {
    const db = await testDatabase();
    drop = db.drop;
    dsA = new DataSource(buildDataSourceOptions(db.settings, [WebhookEntity]));
    await dsA.initialize();
    await runMigrations(dsA);
    if (TEST_PG_URL) {
      dsB = new DataSource(buildDataSourceOptions(db.settings, [WebhookEntity]));
      await dsB.initialize();
    } else dsB = dsA;
    let n = 0;
    server = http.createServer((req, res) => {
      let body = '';
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        setTimeout(() => {
          concurrent--;
          if (!verifyWebhookSignature(SECRET, body, String(req.headers['x-fleetguard-signature']))) badSignatures++;
          if (++n % 5 === 0) {
            failed++;
            res.writeHead(500).end();
            return;
          }
          const id = String(req.headers['x-fleetguard-delivery']);
          ok.set(id, (ok.get(id) ?? 0) + 1);
          res.writeHead(204).end();
        }, 5);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    if (dsB !== dsA) await dsB.destroy();
    await dsA.destroy();
    await drop();
  });

  it('delivers each delivery once, and each worker took a share', async () => {
    const config = parseConfig({
      FLEETGUARD_ENV: 'test',
      FLEETGUARD_CA_PASSPHRASE: 'int-spec-ca-passphrase',
      FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      FLEETGUARD_WEBHOOK_BACKOFF_BASE_MS: '20',
      FLEETGUARD_WEBHOOK_BACKOFF_MAX_SECONDS: '1',
      FLEETGUARD_WEBHOOK_CONCURRENCY_PER_RECEIVER: '3',
      FLEETGUARD_WEBHOOK_BREAKER_FAILURES: '1000',
    });
    const make = async (ds: DataSource) => {
      const secrets = new WebhookSecretsService(ds, config);
      await secrets.onModuleInit();
      const targets = new WebhookTargetService(config);
      return { secrets, targets, outbox: new WebhookOutboxService(ds, config, targets, secrets) };
    };
    const a = await make(dsA);
    const b = await make(dsB);
    const org = randomUUID();
    await dsA.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, $2, 'operator')`, [org, `op-${org}`]);
    const hooks = new WebhooksService(dsA, a.targets, a.secrets);
    const principal = { organizationId: org } as Parameters<WebhooksService['create']>[0];
    for (const path of ['/one', '/two']) await hooks.create(principal, { url: `http://127.0.0.1:${port}${path}`, secret: SECRET, events: ['device.revoked'] });
    const events = Array.from({ length: 150 }, (_, i) => ({ id: randomUUID(), type: 'device.revoked' as const, at: new Date().toISOString(), deviceId: `d-${i}`, audience: [org], data: { status: 'revoked' as const, reason: 'keyCompromise', revokedSerials: [`serial-${i}`] } }));
    expect(await a.outbox.enqueue(events)).toBe(300);
    a.outbox.onApplicationBootstrap();
    b.outbox.onApplicationBootstrap();
    try {
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const [{ n }] = await dsA.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`);
        if (n === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const rows: Array<{ id: string; status: string; attempts: number }> = await dsA.query('SELECT id, status, attempts FROM webhook_deliveries');
      expect(rows).toHaveLength(300);
      expect(rows.filter((r) => r.status !== 'delivered')).toEqual([]);
      expect(ok.size).toBe(300);
      expect([...ok.values()].filter((c) => c !== 1)).toEqual([]);
      expect(rows.every((r) => ok.has(r.id))).toBe(true);
      expect(failed).toBeGreaterThan(0);
      expect(rows.reduce((s, r) => s + r.attempts, 0)).toBe(300 + failed);
      expect(badSignatures).toBe(0);
      // one receiver (an origin), at most 3 at once per worker
      expect(maxConcurrent).toBeLessThanOrEqual(6);
      expect(a.outbox.attemptsStarted).toBeGreaterThan(0);
      expect(b.outbox.attemptsStarted).toBeGreaterThan(0);
      expect(a.outbox.attemptsStarted + b.outbox.attemptsStarted).toBe(300 + failed);
    } finally {
      await a.outbox.onModuleDestroy();
      await b.outbox.onModuleDestroy();
    }
  });
});
