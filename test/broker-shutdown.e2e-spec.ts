import * as fs from 'node:fs';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as mqtt from 'mqtt';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';
import { Workdir, enrollWithOpenssl } from './support/openssl';

jest.setTimeout(120_000);

/**
 * A shutdown (SIGTERM, a rolling deploy, the bench's restart) with devices connected: the
 * service closes every MQTT connection, the connected ones, one still in its TLS handshake and
 * one waiting for a handshake slot, and its close returns within seconds. A listener's close()
 * alone waits for its connections to end, and a device with a 300 s keepalive held the shutdown.
 * The device is mqtt.js with an openssl key and a certificate enrolled over curl.
 */
describe('broker shutdown with devices connected', () => {
  let s: TestService | undefined;
  let w: Workdir;

  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  it('closes connected, handshaking and waiting connections and returns within seconds', async () => {
    // One handshake slot: the second raw connection waits for it, unread.
    s = await startTestService({ FLEETGUARD_MQTT_MAX_HANDSHAKES: '1', FLEETGUARD_MQTT_HANDSHAKE_WAIT_SECONDS: '60' });
    w = new Workdir();
    const operator = await createTenant(s.api, 'operator');
    const fixture = await productWithRelease(s.api, { operator });
    const enrolled = await enrollWithOpenssl(w, s, fixture);
    const { key, cafile } = enrolled;
    const port = Number(new URL(s.urls.mqtt).port);

    const device = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocol: 'mqtts',
      servername: 'localhost',
      clientId: enrolled.deviceId,
      key: fs.readFileSync(key),
      cert: enrolled.certificate,
      ca: fs.readFileSync(cafile),
      keepalive: 300,
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      device.once('connect', () => resolve());
      device.once('error', reject);
    });
    const deviceClosed = new Promise<void>((resolve) => device.once('close', () => resolve()));

    const raw = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
        sock.on('error', () => undefined);
        sock.once('error', reject);
      });
    const handshaking = await raw(); // never says hello: holds the one slot
    await new Promise((r) => setTimeout(r, 200));
    const waiting = await raw(); // waits for the slot
    await new Promise((r) => setTimeout(r, 200));
    const closed = (sock: net.Socket) => new Promise<void>((resolve) => (sock.destroyed ? resolve() : sock.once('close', () => resolve())));
    const rawClosed = Promise.all([closed(handshaking), closed(waiting)]);

    const t0 = performance.now();
    const service = s;
    s = undefined;
    await service.stop();
    const closeMs = performance.now() - t0;
    const all = Promise.all([deviceClosed, rawClosed]).then(() => 'all closed');
    expect(await Promise.race([all, new Promise((r) => setTimeout(() => r('still open'), 5_000))])).toBe('all closed');
    expect(closeMs).toBeLessThan(15_000);
    device.end(true);
  });
});
