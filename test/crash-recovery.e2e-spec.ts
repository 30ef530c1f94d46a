import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { buildEvidence } from '@fleetguard/device-kit';
import { ADMIN_KEY, Api, spawnBuiltService, ephemeralEnv } from './support/service';
import { productWithRelease } from './support/fleet-fixture';
import { Workdir, curl, opensslCsr } from './support/openssl';

jest.setTimeout(180_000);

function post(url: string, tls: { key: string; cert: string; ca: string }, body: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(url, { method: 'POST', ...tls, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Kill the service with SIGKILL while a device publishes evidence, start it again on the same
 * data: every evidence message the broker acknowledged (QoS 1 PUBACK) has a stored result.
 */
describe('crash recovery', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-crash-'));
  const w = new Workdir();
  const env = {
    ...ephemeralEnv(dir),
    FLEETGUARD_ADMIN_KEY: ADMIN_KEY,
    FLEETGUARD_CA_PASSPHRASE: 'crash-test-passphrase',
    FLEETGUARD_LOG_LEVEL: 'error',
    FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600',
    // One device publishes as fast as it can: the per-device rate limit (test/security/rate-limits) is not what this tests.
    FLEETGUARD_DEVICE_RATE_PER_MINUTE: '100000',
  };
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    w.cleanup();
  });

  it('every acknowledged evidence message has a stored result after SIGKILL and restart', async () => {
    const first = await spawnBuiltService(env);
    const api = new Api(first.urls.operator);
    const fixture = await productWithRelease(api);
    const ca = (await api.get('/pki/ca')).body as string;
    const cafile = w.write('chain.pem', ca);
    const [token] = await fixture.tokens(1);
    const { key, csrPem } = opensslCsr(w, 'crash', 'P-256');
    const enrolled = await curl(['--cacert', cafile, '-H', 'content-type: application/json', '--data-binary', `@${w.write('e.json', JSON.stringify({ token, csr: csrPem }))}`, `${first.urls.device}/enroll`]);
    const { deviceId, certificate } = JSON.parse(enrolled.stdout);
    const tls = { key: fs.readFileSync(key, 'utf8'), cert: certificate, ca };

    const client = await mqtt.connectAsync(first.urls.mqtt, { ...tls, clientId: deviceId, reconnectPeriod: 0, protocolVersion: 4 });
    client.on('error', () => undefined);
    client.on('close', () => (running = false));
    const acked: string[] = [];
    let running = true;
    const loops = Array.from({ length: 6 }, async () => {
      while (running) {
        try {
          const c = await post(`${first.urls.device}/attestation/challenge`, tls, {});
          const evidence = await buildEvidence({ deviceKey: tls.key, deviceId, nonce: c.nonce, fw: fixture.profile.fw, events: fixture.profile.events });
          // mqtt.js keeps a publish queued while offline: bound the wait, an unacknowledged message does not count.
          await Promise.race([
            client.publishAsync(`fleet/v1/devices/${deviceId}/evidence`, JSON.stringify({ evidence }), { qos: 1 }),
            new Promise((_, reject) => setTimeout(() => reject(new Error('no PUBACK')), 5000)),
          ]);
          acked.push(createHash('sha256').update(evidence).digest('hex'));
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2500));
    await first.kill('SIGKILL');
    running = false;
    await Promise.all(loops);
    client.end(true);
    // Acknowledgements are counted only once PUBACK arrived, so this is a lower bound of what was stored.
    expect(acked.length).toBeGreaterThan(5);

    const second = await spawnBuiltService(env);
    try {
      const api2 = new Api(second.urls.operator);
      const stored = new Set<string>();
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        stored.clear();
        let before: string | undefined;
        for (;;) {
          const page = await api2.get(`/api/v1/devices/${deviceId}/attestations?limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`, fixture.manufacturer.key);
          for (const item of page.body.items) stored.add(item.evidenceSha256);
          if (page.body.items.length < 200) break;
          before = page.body.next;
        }
        if (acked.every((h) => stored.has(h))) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const missing = acked.filter((h) => !stored.has(h));
      expect({ acknowledged: acked.length, missing: missing.length }).toEqual({ acknowledged: acked.length, missing: 0 });
    } finally {
      await second.kill();
    }
  });
});
