import * as fs from 'node:fs';
import mqtt from 'mqtt';
import { DataSource } from 'typeorm';
import { deviceTopic } from '@fleetguard/common';
import { TestService, createTenant, startTestService } from '../support/service';
import { productWithRelease } from '../support/fleet-fixture';
import { Workdir, curl, opensslCsr } from '../support/openssl';

jest.setTimeout(180_000);

/**
 * Gap "no per-device rate limit (1,500 evidence messages in 10 s all appraised, each raising a
 * webhook)": each device may send FLEETGUARD_DEVICE_RATE_PER_MINUTE evidence messages, HTTP
 * challenges and hardening reports a minute (each kind its own bucket, burst twice the rate);
 * beyond that, MQTT evidence is acknowledged and refused (counted, never recorded or appraised)
 * and HTTP requests get 429 with Retry-After. The rate is set to 2 a minute (burst 4, one token
 * back every 30 s), so a refill during a test cannot blur the counts on a slow machine.
 */
const RATE = 2;
const BURST = 2 * RATE;

describe('security: per-device rate limits', () => {
  let s: TestService;
  let w: Workdir;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let ca: string;
  let cafile: string;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_DEVICE_RATE_PER_MINUTE: String(RATE) });
    w = new Workdir();
    const operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    ca = (await s.api.get('/pki/ca')).body;
    cafile = w.write('chain.pem', ca);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  async function enrolled(name: string) {
    const [token] = await fixture.tokens(1);
    const { key, csrPem } = opensslCsr(w, name, 'P-256');
    const body = w.write(`${name}.json`, JSON.stringify({ token, csr: csrPem }));
    const r = await curl(['--cacert', cafile, '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`]);
    const out = JSON.parse(r.stdout);
    return { id: out.deviceId as string, key, cert: w.write(`${name}.crt`, out.certificate) };
  }

  async function metric(name: string, labels: string): Promise<number> {
    const text: string = (await s.api.get('/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  const devicePost = (dev: { key: string; cert: string }, path: string, body?: string) =>
    curl(['--cacert', cafile, '--cert', dev.cert, '--key', dev.key, '-X', 'POST', '-D', '-', ...(body ? ['-H', 'content-type: application/json', '--data-binary', body] : []), `${s.urls.device}${path}`]);

  it('HTTP: beyond the burst of challenges, 429 with Retry-After; another device is not affected', async () => {
    const d = await enrolled('http-flood');
    const other = await enrolled('http-calm');
    const results = await Promise.all(Array.from({ length: 12 }, () => devicePost(d, '/attestation/challenge')));
    const ok = results.filter((r) => r.http === 200).length;
    const limited = results.filter((r) => r.http === 429);
    expect(ok + limited.length).toBe(12);
    expect(ok).toBeGreaterThanOrEqual(BURST);
    expect(ok).toBeLessThanOrEqual(BURST + 1); // the burst, plus at most one token refilled meanwhile (one per 30 s)
    expect(limited[0].stdout).toMatch(/retry-after: [1-9]\d*/i);
    expect(limited[0].stdout).toContain('challenge.rate-limited');
    expect((await devicePost(other, '/attestation/challenge')).http).toBe(200);
    expect(await metric('fleetguard_device_rate_limited_total', 'kind="challenge",channel="http"')).toBe(limited.length);
  });

  it('HTTP: hardening reports have their own bucket (a flood of challenges does not spend it), then 429', async () => {
    const d = await enrolled('report-flood');
    for (let i = 0; i < BURST + 2; i++) expect((await devicePost(d, '/attestation/challenge')).http).toBe(i < BURST ? 200 : 429);
    // Reports that fail the schema still cost the service work: they are counted against the rate too.
    const codes: number[] = [];
    for (let i = 0; i < BURST + 2; i++) codes.push((await devicePost(d, '/devices/self/hardening', '{}')).http);
    expect(codes.slice(0, BURST)).toEqual(Array(BURST).fill(400));
    expect(codes.slice(BURST + 1)).toEqual([429]);
  });

  it('MQTT: of 20 evidence messages sent at once, the burst is recorded and the rest are refused as rate-limited (all acknowledged)', async () => {
    const d = await enrolled('mqtt-flood');
    const client = await mqtt.connectAsync(`mqtts://localhost:${s.ports.mqtt}`, { clientId: d.id, ca, cert: fs.readFileSync(d.cert), key: fs.readFileSync(d.key), reconnectPeriod: 0, protocolVersion: 4 });
    try {
      const before = await metric('fleetguard_mqtt_rejections_total', 'reason="evidence-rate-limited"');
      // Well-formed compact JWS (so the shape check passes and the rate decides), each different,
      // signed by nobody: what reaches the appraisal is refused there for its signature.
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const jws = (i: number) => `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ i, nonce: `n${i}` })}.${Buffer.from(`sig${i}`).toString('base64url')}`;
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.publishAsync(deviceTopic(d.id, 'evidence'), JSON.stringify({ evidence: jws(i) }), { qos: 1 })));
      const refused = (await metric('fleetguard_mqtt_rejections_total', 'reason="evidence-rate-limited"')) - before;
      expect(refused).toBeGreaterThanOrEqual(20 - BURST - 1);
      expect(refused).toBeLessThanOrEqual(20 - BURST);
      expect(await metric('fleetguard_device_rate_limited_total', 'kind="evidence",channel="mqtt"')).toBe(refused);
      // Only what passed the rate was recorded in the inbox.
      const [recorded] = await s.app.get(DataSource).query(`SELECT count(*)::int AS n FROM attestation_inbox WHERE device_id = $1`, [d.id]);
      expect(recorded.n).toBe(20 - refused);
    } finally {
      await client.endAsync();
    }
  });
});
