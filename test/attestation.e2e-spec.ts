import { createLocalJWKSet, jwtVerify } from 'jose';
import { createHmac, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import * as http from 'node:http';
import { SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { EventBusService } from '@fleetguard/events/nest';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(120_000);

type DeviceOptions = ConstructorParameters<typeof SimulatedDevice>[0];

/**
 * One service per describe block, with an operator and a product whose release and reference values
 * are on record; `device()` enrolls a simulated device of that product (closed in afterAll).
 */
function attestationContext(env: Record<string, string>) {
  const ctx = {} as {
    s: TestService;
    fixture: Awaited<ReturnType<typeof productWithRelease>>;
    operator: Awaited<ReturnType<typeof createTenant>>;
    device(behaviour?: DeviceOptions['behaviour'], extra?: Partial<DeviceOptions>): Promise<SimulatedDevice>;
  };
  const devices: SimulatedDevice[] = [];
  beforeAll(async () => {
    ctx.s = await startTestService(env);
    ctx.operator = await createTenant(ctx.s.api, 'operator');
    ctx.fixture = await productWithRelease(ctx.s.api, { operator: ctx.operator });
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await ctx.s?.stop();
  });
  ctx.device = async (behaviour = 'good', extra = {}) => {
    const [token] = await ctx.fixture.tokens(1);
    const { s, fixture } = ctx;
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, behaviour, reconnectPeriodMs: 0, hardening: false, ...extra });
    devices.push(d);
    await d.enroll();
    return d;
  };
  return ctx;
}

describe('attestation over the embedded MQTT broker and the device HTTP API', () => {
  const ctx = attestationContext({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600', FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
  const device: typeof ctx.device = (...args) => ctx.device(...args);
  let s: TestService;
  let fixture: typeof ctx.fixture;
  let operator: typeof ctx.operator;
  beforeAll(() => ({ s, fixture, operator } = ctx));

  it('a good device is challenged on connect and gets an affirming EAR that verifies with the published key (jose and node crypto)', async () => {
    const d = await device('good');
    await d.connect();
    const ear = await d.waitForResult(30_000, { since: 0 });
    const summary = summarizeEar(ear);
    expect(summary.status).toBe('affirming');

    const jwk = (await s.api.get('/attestation/verifier-key')).body;
    const { payload } = await jwtVerify(ear, createLocalJWKSet({ keys: [jwk] }));
    expect(payload.eat_profile).toBe('tag:ietf.org,2026:rats/ear#04'); // draft-ietf-rats-ear-04 form, the default
    expect((payload as any).ear_status).toBe('affirming');
    expect((payload as any).submods.device.ear_status).toBe('affirming');
    // Independently of jose: ES256 raw r||s over the signing input.
    const [h, p, sig] = ear.split('.');
    const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
    expect(ok).toBe(true);

    const detail = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
    expect(detail.body.attestation.status).toBe('affirming');
    expect(detail.body.firmware).toEqual({ version: fixture.profile.fw.version, securityCounter: fixture.profile.fw.securityCounter });
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items[0]).toMatchObject({ status: 'affirming', reasons: [] });
    expect(history.body.items[0].ear).toBe(ear);
  });

  it.each([
    ['tampered-component', 'contraindicated', /component 'kernel'|kernel/],
    ['wrong-nonce', 'contraindicated', /nonce/],
    ['rollback', 'contraindicated', /security counter|rollback|minimum/i],
    ['wrong-key', 'contraindicated', /signature/],
  ] as const)('a %s device gets %s with the reason named', async (behaviour, status, reason) => {
    const d = await device(behaviour);
    await d.connect();
    const ear = await d.waitForResult(30_000, { since: 0 });
    const summary = summarizeEar(ear);
    expect(summary.status).toBe(status);
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items[0].reasons.join(' ')).toMatch(reason);
  });

  it('a failure is delivered to a webhook with an HMAC-SHA256 signature over the body', async () => {
    const received: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(received.length === 1 ? 503 : 204).end(); // the first attempt fails: the delivery is retried
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
      const secret = 'webhook-secret-0123456789';
      const hook = await s.api.post('/api/v1/webhooks', { url, secret, events: ['attestation.failed'] }, operator.key);
      expect(hook.status).toBe(201);
      expect(hook.body.secret).toBeUndefined();
      const d = await device('tampered-component');
      await d.connect();
      await d.waitForResult(30_000, { since: 0 });
      const deadline = Date.now() + 15_000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(received.length).toBeGreaterThanOrEqual(2);
      const last = received[received.length - 1];
      const event = JSON.parse(last.body);
      expect(event).toMatchObject({ type: 'attestation.failed', deviceId: d.deviceId, data: { status: 'contraindicated' } });
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(last.headers['x-fleetguard-signature']));
      expect(m).not.toBeNull();
      expect(createHmac('sha256', secret).update(`${m![1]}.${last.body}`).digest('hex')).toBe(m![2]);
    } finally {
      server.close();
    }
  });

  it('the device HTTP API gives the same result, and a replayed nonce is refused', async () => {
    const d = await device('good');
    const ear = await d.attestOverHttp();
    expect(summarizeEar(ear).status).toBe('affirming');
  });

  it('an operator can trigger attestation of a connected device; not of another tenant\'s', async () => {
    const d = await device('good');
    await d.connect();
    await d.waitForResult(30_000, { since: 0 });
    const before = d.results.length;
    const r = await s.api.post(`/api/v1/devices/${d.deviceId}/attest`, {}, operator.key);
    expect(r.status).toBe(202);
    await d.waitForResult(30_000, { since: before });
    expect(d.results.length).toBeGreaterThan(before);
    const stranger = await createTenant(s.api, 'operator');
    expect((await s.api.post(`/api/v1/devices/${d.deviceId}/attest`, {}, stranger.key)).status).toBe(404);
  });

  it('a revoked device is dropped from the broker and refused on reconnect', async () => {
    const d = await device('good');
    await d.connect();
    await d.waitForResult(30_000, { since: 0 });
    const r = await s.api.post(`/api/v1/devices/${d.deviceId}/revoke`, { reason: 'keyCompromise' }, operator.key);
    expect(r.status).toBe(200);
    const deadline = Date.now() + 5000;
    while (d.isConnected && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(d.isConnected).toBe(false);
    await expect(d.connect()).rejects.toThrow();
  });
});

const haveSwtpm = ['/usr/bin/swtpm', '/usr/bin/tpm2_quote'].every((f) => require('node:fs').existsSync(f));
(haveSwtpm ? describe : describe.skip)('attestation with a real software TPM (swtpm + tpm2-tools)', () => {
  const ctx = attestationContext({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });

  it.each([
    ['good', 'affirming', null],
    ['tampered-component', 'contraindicated', /kernel/],
  ] as const)('a swtpm-backed %s device with its AK registered at enrollment gets %s', async (behaviour, status, reason) => {
    const { s, operator } = ctx;
    const d = await ctx.device(behaviour, { tpm: { mode: 'swtpm' } });
    expect(d.akPublicKeyPem).toContain('BEGIN PUBLIC KEY');
    await d.connect();
    const ear = await d.waitForResult(60_000, { since: 0 });
    expect(summarizeEar(ear).status).toBe(status);
    const detail = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
    expect(detail.body.hasAttestationKey).toBe(true);
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items[0].claims.tpm.present).toBe(true);
    if (reason) expect(history.body.items[0].reasons.join(' ')).toMatch(reason);
  });
});

describe('staleness', () => {
  const ctx = attestationContext({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '2' });

  it('a device that stops answering is announced stale once, when its last affirming result grows older than twice the interval', async () => {
    const seen: string[] = [];
    const { s, operator } = ctx;
    const sub = s.app.get(EventBusService).stream(null, ['attestation.stale']).subscribe((e) => seen.push(e.deviceId!));
    try {
      const d = await ctx.device('good');
      await d.connect();
      expect(summarizeEar(await d.waitForResult(30_000, { since: 0 })).status).toBe('affirming');
      await d.close();
      const deadline = Date.now() + 15_000;
      while (!seen.includes(d.deviceId!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 3000)); // more sweeps: no second announcement
      expect(seen.filter((id) => id === d.deviceId)).toEqual([d.deviceId]);
      expect((await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key)).body.integrity).toBe('stale');
    } finally {
      sub.unsubscribe();
    }
  });
});
