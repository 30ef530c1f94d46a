import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { DataSource } from 'typeorm';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';
import { Workdir, curl, opensslCsr } from './support/openssl';

jest.setTimeout(120_000);

/** mosquitto_pub / mosquitto_sub as independent MQTT clients against the embedded broker. */
function mosquitto(tool: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tool, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const haveMosquitto = fs.existsSync('/usr/bin/mosquitto_pub') && fs.existsSync('/usr/bin/mosquitto_sub');
(haveMosquitto ? describe : describe.skip)('the embedded broker with mosquitto clients', () => {
  let s: TestService;
  let w: Workdir;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let port: string;
  let cafile: string;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_MQTT_MAX_PAYLOAD: '4096' });
    w = new Workdir();
    const operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    port = new URL(s.urls.mqtt).port;
    cafile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
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

  const tlsArgs = (d: { key: string; cert: string }) => ['-h', 'localhost', '-p', port, '--cafile', cafile, '--cert', d.cert, '--key', d.key];

  async function rejections(): Promise<Record<string, number>> {
    const text: string = (await s.api.get('/metrics')).body;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^fleetguard_mqtt_rejections_total\{reason="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }

  it('a device certificate connects and receives a challenge on its own topic', async () => {
    const d = await enrolled('sub-ok');
    const r = await mosquitto('mosquitto_sub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/challenge`, '-q', '1', '-C', '1', '-W', '20']);
    expect(r.code).toBe(0);
    const challenge = JSON.parse(r.stdout.trim());
    expect(challenge.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(challenge.expiresAt)).toBeGreaterThan(Date.now());
  });

  it('refuses a client id that differs from the certificate CN, and counts it', async () => {
    const d = await enrolled('wrong-id');
    const before = (await rejections())['client-id-mismatch'] ?? 0;
    const r = await mosquitto('mosquitto_sub', [...tlsArgs(d), '-i', 'someone-else', '-t', `fleet/v1/devices/${d.id}/challenge`, '-C', '1', '-W', '10']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/identifier rejected|refused/i);
    expect((await rejections())['client-id-mismatch']).toBe(before + 1);
  });

  it('refuses publishing to another device\'s topic and subscribing to another device\'s challenges', async () => {
    const a = await enrolled('acl-a');
    const b = await enrolled('acl-b');
    const before = await rejections();
    const pub = await mosquitto('mosquitto_pub', [...tlsArgs(a), '-i', a.id, '-t', `fleet/v1/devices/${b.id}/evidence`, '-m', '{"evidence":"x.y.z"}', '-q', '1']);
    expect(pub.code).not.toBe(0);
    const sub = await mosquitto('mosquitto_sub', [...tlsArgs(a), '-i', a.id, '-t', `fleet/v1/devices/${b.id}/challenge`, '-C', '1', '-W', '5']);
    // SUBACK 0x80: mosquitto_sub reports the denial and never gets the other device's challenge.
    expect(sub.stdout.trim()).toBe('');
    expect(sub.stderr + sub.stdout).toMatch(/denied|timed out/i);
    const after = await rejections();
    expect(after['publish-acl']).toBe((before['publish-acl'] ?? 0) + 1);
    expect(after['subscribe-acl']).toBe((before['subscribe-acl'] ?? 0) + 1);
  });

  it('refuses an oversized payload and answers malformed evidence on the result topic', async () => {
    const d = await enrolled('big');
    const before = (await rejections())['payload-too-large'] ?? 0;
    const big = w.write('big.json', JSON.stringify({ evidence: 'a'.repeat(8000) }));
    const r = await mosquitto('mosquitto_pub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/evidence`, '-f', big, '-q', '1']);
    expect(r.code).not.toBe(0);
    expect((await rejections())['payload-too-large']).toBe(before + 1);

    // Malformed evidence: acknowledged, counted, and answered with the reason.
    const listen = mosquitto('mosquitto_sub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/result`, '-q', '1', '-C', '1', '-W', '20', '-c']);
    await new Promise((res) => setTimeout(res, 1000));
    const d2 = { ...d };
    const pub = await mosquitto('mosquitto_pub', [...tlsArgs(d2), '-i', `${d.id}`, '-t', `fleet/v1/devices/${d.id}/evidence`, '-m', 'not json', '-q', '1']);
    expect(pub.code).toBe(0);
    const got = await listen;
    // The subscriber may be displaced by the publisher (same client id): what matters is the counted rejection.
    if (got.stdout.trim()) expect(JSON.parse(got.stdout.trim()).error.code).toBe('bad-json');
    expect((await rejections())['evidence-bad-json']).toBeGreaterThanOrEqual(1);
  });

  it('acknowledges and refuses a payload with a NUL character (it could never be stored), instead of letting it come back forever', async () => {
    const d = await enrolled('nul');
    const before = (await rejections())['hardening-nul-character'] ?? 0;
    const r = await mosquitto('mosquitto_pub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/hardening`, '-m', '{"schemaVersion":1,"firmwareVersion":"1\\u0000"}', '-q', '1']);
    expect(r.code).toBe(0);
    expect((await rejections())['hardening-nul-character']).toBe(before + 1);
  });

  it('acknowledges a status message and records the presence on the device (fleet handles status)', async () => {
    const d = await enrolled('presence');
    const seen = async () => (await s.api.get(`/api/v1/devices/${d.id}`, fixture.manufacturer.key)).body.lastSeenAt;
    expect(await seen()).toBeNull();
    const r = await mosquitto('mosquitto_pub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/status`, '-m', '{"online":true}', '-q', '1']);
    expect(r.code).toBe(0);
    expect(Date.parse(await seen())).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a status message whose device row another transaction holds is acknowledged once that commits, and recorded (grouped presence)', async () => {
    const d = await enrolled('presence-locked');
    const other = await enrolled('presence-free');
    const ds = s.app.get(DataSource);
    const holder = ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    let published: Promise<{ code: number }> | undefined;
    let free: Promise<{ code: number }> | undefined;
    let done = false;
    try {
      await holder.query('SELECT id FROM devices WHERE id = $1 FOR UPDATE', [d.id]);
      published = mosquitto('mosquitto_pub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/status`, '-m', '{"online":true}', '-q', '1']);
      void published.then(() => (done = true));
      // A status of another device at the same time (the same group, when they meet) also waits: nothing skipped is left unwritten.
      free = mosquitto('mosquitto_pub', [...tlsArgs(other), '-i', other.id, '-t', `fleet/v1/devices/${other.id}/status`, '-m', '{"online":true}', '-q', '1']);
      await new Promise((r) => setTimeout(r, 1500));
      expect(done).toBe(false); // no PUBACK while the row is held: it is written before the acknowledgement
      await holder.commitTransaction();
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release(); // on PGlite the runner holds the one session: released before anything else can go on
    }
    expect((await free!).code).toBe(0);
    expect((await published!).code).toBe(0);
    const seen = async (id: string) => (await s.api.get(`/api/v1/devices/${id}`, fixture.manufacturer.key)).body.lastSeenAt;
    expect(Date.parse(await seen(d.id))).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(await seen(other.id))).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses a revoked certificate at connect', async () => {
    const d = await enrolled('revoked');
    expect((await s.api.post(`/api/v1/devices/${d.id}/revoke`, { reason: 'keyCompromise' }, fixture.manufacturer.key)).status).toBe(200);
    const before = (await rejections())['certificate-revoked'] ?? 0;
    const r = await mosquitto('mosquitto_sub', [...tlsArgs(d), '-i', d.id, '-t', `fleet/v1/devices/${d.id}/challenge`, '-C', '1', '-W', '10']);
    expect(r.code).not.toBe(0);
    // refused at the end of the TLS handshake; the client may retry before it gives up
    expect((await rejections())['certificate-revoked']).toBeGreaterThan(before);
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    const r = await mosquitto('mosquitto_sub', ['-h', 'localhost', '-p', port, '--cafile', cafile, '-t', 'fleet/v1/devices/x/challenge', '-C', '1', '-W', '5']);
    expect(r.code).not.toBe(0);
  });
});
