import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import mqtt from 'mqtt';
import { SimulatedDevice, summarizeEar } from '../../apps/device-sim/src';
import { ADMIN_KEY, Api, createTenant, ephemeralEnv, spawnBuiltService } from '../support/service';
import { productWithRelease } from '../support/fleet-fixture';
import { TEST_PG_URL, createPostgresDatabase } from '../support/test-database';

/**
 * Three instances of the built service on one PostgreSQL database and one Redis, behind Debian's
 * HAProxy (started here), as docker-compose.yml runs them. Runs only with FLEETGUARD_TEST_PG set,
 * Redis on 127.0.0.1:6379 and haproxy installed (.ci/run provides all three).
 */
const REDIS = { host: '127.0.0.1', port: 6379 };
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => fs.existsSync(p));

function redisReachable(): boolean {
  const r = spawnSync('redis-cli', ['-h', REDIS.host, '-p', String(REDIS.port), 'ping'], { encoding: 'utf8', timeout: 5000 });
  return r.stdout?.trim() === 'PONG';
}

const runs = !!TEST_PG_URL && !!HAPROXY && redisReachable();
const describeScale = runs ? describe : describe.skip;
if (!runs && process.env.CI) {
  // In CI this test must run: say loudly what is missing instead of skipping silently.
  throw new Error(`test/scale needs FLEETGUARD_TEST_PG (${!!TEST_PG_URL}), haproxy (${HAPROXY ?? 'missing'}) and Redis on 6379 (${redisReachable()})`);
}

jest.setTimeout(600_000);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const portOf = (url: string) => Number(new URL(url).port);

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined | null | false> | T | undefined | null | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Instance = Awaited<ReturnType<typeof spawnBuiltService>>;

describeScale('three instances behind HAProxy (PostgreSQL + Redis)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-scale-'));
  const redisDb = 1 + Math.floor(Math.random() * 15);
  let db: { url: string; drop: () => Promise<void> };
  let pg: Client;
  const instances: Instance[] = [];
  let haproxy: ChildProcess | undefined;
  const front = { operator: 0, device: 0, mqtt: 0 };
  let lb: Api;
  const devices: SimulatedDevice[] = [];
  const stale = new Map<string, number>();
  let hookServer: http.Server;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let operator: { orgId: string; key: string };

  const device = async (mqttUrl: string, extra: Partial<ConstructorParameters<typeof SimulatedDevice>[0]> = {}) => {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: `http://127.0.0.1:${front.operator}`, deviceUrl: `https://127.0.0.1:${front.device}`, mqttUrl, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, ...extra });
    devices.push(d);
    await d.enroll();
    return d;
  };

  beforeAll(async () => {
    spawnSync('redis-cli', ['-n', String(redisDb), 'flushdb'], { timeout: 5000 });
    db = await createPostgresDatabase(TEST_PG_URL!);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    hookServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const e = JSON.parse(body) as { type: string; deviceId?: string };
        if (e.type === 'attestation.stale' && e.deviceId) stale.set(e.deviceId, (stale.get(e.deviceId) ?? 0) + 1);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
    for (const k of Object.keys(front) as Array<keyof typeof front>) front[k] = await freePort();
    const env = (name: string) => ({
      ...ephemeralEnv(path.join(dir, name)),
      DATABASE_URL: db.url,
      FLEETGUARD_REDIS_URL: `redis://${REDIS.host}:${REDIS.port}/${redisDb}`,
      FLEETGUARD_PUBLIC_URL: `http://127.0.0.1:${front.operator}`,
      FLEETGUARD_ENV: 'test',
      FLEETGUARD_ADMIN_KEY: ADMIN_KEY,
      FLEETGUARD_CA_PASSPHRASE: 'test-ca-passphrase-123',
      FLEETGUARD_LOG_LEVEL: 'info',
      FLEETGUARD_ATTEST_INTERVAL_SECONDS: '6',
      FLEETGUARD_APPRAISAL_LEASE_SECONDS: '5',
      FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      __WAIT_FOR: 'mqtt',
    });
    // All three start at once on an empty database: one of them makes the CA, the others adopt it.
    instances.push(...(await Promise.all(['a', 'b', 'c'].map((n) => spawnBuiltService(env(n))))));
    const backends = (kind: 'operator' | 'device' | 'mqtt') => instances.map((s, i) => `    server i${i} 127.0.0.1:${portOf(s.urls[kind])} check inter 1s fall 2 rise 1`).join('\n');
    const cfg = `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
frontend operator
  bind 127.0.0.1:${front.operator}
  default_backend operator
backend operator
  balance roundrobin
${backends('operator')}
frontend device
  bind 127.0.0.1:${front.device}
  default_backend device
backend device
  balance roundrobin
${backends('device')}
frontend mqtt
  bind 127.0.0.1:${front.mqtt}
  default_backend mqtt
backend mqtt
  balance leastconn
${backends('mqtt')}
`;
    fs.writeFileSync(path.join(dir, 'haproxy.cfg'), cfg);
    haproxy = spawn(HAPROXY!, ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    lb = new Api(`http://127.0.0.1:${front.operator}`);
    await until('HAProxy in front of the instances', 30_000, async () => (await lb.get('/health/ready').catch(() => ({ status: 0 }))).status === 200);
    operator = await createTenant(lb, 'operator');
    fixture = await productWithRelease(lb, { operatorOrgId: operator.orgId });
    const hook = await lb.post('/api/v1/webhooks', { url: `http://127.0.0.1:${(hookServer.address() as net.AddressInfo).port}/hook`, secret: 'scale-webhook-secret-0123456789', events: ['attestation.stale'] }, operator.key);
    if (hook.status !== 201) throw new Error(`webhook: ${JSON.stringify(hook.body)}`);
  });

  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    haproxy?.kill('SIGKILL');
    await Promise.all(instances.map((s) => s.kill('SIGTERM')));
    await new Promise<void>((r) => (hookServer ? hookServer.close(() => r()) : r()));
    await pg?.end();
    await db?.drop();
    spawnSync('redis-cli', ['-n', String(redisDb), 'flushdb'], { timeout: 5000 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the three share one CA and one verifier key, made once', async () => {
    const cas = await Promise.all(instances.map(async (s) => (await new Api(s.urls.operator).request('GET', '/pki/ca')).body as string));
    expect(new Set(cas).size).toBe(1);
    const keys = await Promise.all(instances.map(async (s) => (await new Api(s.urls.operator).get('/attestation/verifier-key')).body.kid));
    expect(new Set(keys).size).toBe(1);
    const made = instances.filter((s) => /created a device CA/.test(s.output())).length;
    expect(made).toBe(1);
  });

  it('a device on instance A answers a challenge requested through instance B', async () => {
    const [a, b] = instances;
    const d = await device(a.urls.mqtt);
    await d.connect();
    await d.waitForResult(60_000, { since: 0 });
    const challenges: string[] = [];
    d.on('challenge', (c) => challenges.push(c.nonce));
    const r = await new Api(b.urls.operator).post(`/api/v1/devices/${d.deviceId}/attest`, {}, fixture.manufacturer.key);
    expect(r.status).toBe(202);
    const nonce = r.body.nonce as string;
    await until('the challenge sent through B to reach the device on A', 30_000, () => challenges.includes(nonce));
    const ear = await until('the result of that challenge', 60_000, () => d.results.find((e) => summarizeEar(e).nonce === nonce));
    expect(summarizeEar(ear).status).toBe('affirming');
  });

  it('a revocation through C drops the device from A within 5 s', async () => {
    const [a, , c] = instances;
    const d = await device(a.urls.mqtt);
    await d.connect();
    await d.waitForResult(60_000, { since: 0 });
    const dropped = new Promise<number>((resolve) => d.on('connection', (state) => state !== 'connected' && resolve(Date.now())));
    const at = Date.now();
    const r = await new Api(c.urls.operator).post(`/api/v1/devices/${d.deviceId}/revoke`, { reason: 'keyCompromise' }, fixture.manufacturer.key);
    expect(r.status).toBe(200);
    const when = await Promise.race([dropped, new Promise<number>((r2) => setTimeout(() => r2(-1), 10_000))]);
    expect(when).toBeGreaterThan(0);
    expect(when - at).toBeLessThan(5000);
  });

  it('a second connection of one device elsewhere takes its session over', async () => {
    const [a, b] = instances;
    const d = await device(a.urls.mqtt);
    await d.connect();
    const dropped = new Promise<boolean>((resolve) => d.on('connection', (state) => state !== 'connected' && resolve(true)));
    const second = mqtt.connect(b.urls.mqtt, { clientId: d.deviceId, protocolVersion: 4, clean: true, reconnectPeriod: 0, key: d.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: d.certificatePem + d.chainPem, ca: d.chainPem, rejectUnauthorized: true });
    try {
      await new Promise<void>((resolve, reject) => {
        second.once('connect', () => resolve());
        second.once('error', reject);
      });
      expect(await Promise.race([dropped, new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))])).toBe(true);
    } finally {
      second.end(true);
    }
  });

  it('SIGKILL of A while devices publish: every acknowledged report gets a result from B or C', async () => {
    const [a, b] = instances;
    const fleet = await Promise.all(Array.from({ length: 6 }, () => device(a.urls.mqtt)));
    const acked: string[] = [];
    for (const d of fleet) d.on('evidence', (e) => acked.push(e.nonce));
    await Promise.all(fleet.map((d) => d.connect()));
    // Ask each device again through B, and kill A as the answers come in.
    await Promise.all(fleet.map((d) => new Api(b.urls.operator).post(`/api/v1/devices/${d.deviceId}/attest`, {}, fixture.manufacturer.key)));
    await until('evidence acknowledged by A', 60_000, () => acked.length >= fleet.length);
    await a.kill('SIGKILL');
    const pending = await pg.query(`SELECT count(*)::int AS n FROM attestation_inbox WHERE processed_at IS NULL`);
    const ackedNow = [...acked];
    // The lease (5 s) runs out; B or C claims what A held; every acknowledged nonce gets a result.
    await until('a result for every acknowledged report', 90_000, async () => {
      const rows = await pg.query(
        `SELECT n.nonce FROM nonces n WHERE n.nonce = ANY($1) AND n.used_at IS NOT NULL AND EXISTS (SELECT 1 FROM attestation_results r WHERE r.device_id = n.device_id AND r.created_at >= n.created_at)`,
        [ackedNow],
      );
      return rows.rowCount === ackedNow.length;
    });
    const left = await pg.query(`SELECT count(*)::int AS n FROM attestation_inbox WHERE processed_at IS NULL`);
    expect(left.rows[0].n).toBe(0);
    console.log(`scale e2e: ${ackedNow.length} acknowledged reports, ${pending.rows[0].n} unappraised when A was killed, all appraised by B or C`);
  });

  it('the stale sweep notifies each stale device once, with three instances sweeping', async () => {
    const [, b, c] = instances;
    const quiet = [await device(b.urls.mqtt), await device(c.urls.mqtt)];
    for (const d of quiet) {
      await d.connect();
      await d.waitForResult(60_000, { since: 0 });
      await d.close();
    }
    // Stale after 2 × 6 s without an affirming result; sweeps run every 1.5 s on each instance.
    await until('both quiet devices announced stale', 90_000, () => quiet.every((d) => stale.has(d.deviceId)));
    await new Promise((r) => setTimeout(r, 8000));
    for (const d of quiet) expect({ device: d.deviceId, notified: stale.get(d.deviceId) }).toEqual({ device: d.deviceId, notified: 1 });
    // Every device that went away (closed, or on A when it died) was announced at most once.
    for (const d of devices.filter((x) => !x.isConnected && stale.has(x.deviceId))) expect({ device: d.deviceId, notified: stale.get(d.deviceId) }).toEqual({ device: d.deviceId, notified: 1 });
  });
});
