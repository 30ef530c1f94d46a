import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import mqtt from 'mqtt-packet';
import { TestService, createTenant, startTestService } from '../support/service';
import { productWithRelease } from '../support/fleet-fixture';
import { Workdir, curl, opensslCsr } from '../support/openssl';

jest.setTimeout(120_000);

/** Varint of the MQTT remaining length. */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

const MB200 = 200_000_000;
const connectPacket = (clientId: string) => mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30 } as never);

/** Resolves true if the socket closes within ms, else false (and leaves it open). */
function closesWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Writes 1 MiB chunks of the announced body until the socket closes or `total` is sent. */
async function pour(socket: net.Socket, total: number): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  let sent = 0;
  while (!socket.destroyed && sent < total) {
    if (!socket.write(chunk)) await new Promise((r) => { socket.once('drain', r); socket.once('close', r); });
    sent += chunk.length;
  }
  return sent;
}

/**
 * Finding 2 (HIGH): no MQTT packet size limit before buffering, no revocation in the TLS
 * handshake, unbounded connections per certificate; finding 3: QoS 2 inbound state per session.
 */
describe('security: the MQTT listeners', () => {
  let s: TestService;
  let w: Workdir;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let ca: string;
  let cafile: string;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_MQTT_PLAIN_PORT: '0' });
    w = new Workdir();
    operator = await createTenant(s.api, 'operator');
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

  function openTls(d: { key: string; cert: string }): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: s.ports.mqtt, servername: 'localhost', ca, cert: fs.readFileSync(d.cert), key: fs.readFileSync(d.key) }, () => resolve(socket));
      socket.on('error', () => undefined);
      socket.once('error', reject);
    });
  }

  async function rejections(): Promise<Record<string, number>> {
    const text: string = (await s.api.get('/metrics')).body;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^fleetguard_mqtt_rejections_total\{reason="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }

  it('an authenticated device announcing a 200 MB PUBLISH is dropped at the fixed header, not after buffering it', async () => {
    const d = await enrolled('big-publish');
    const socket = await openTls(d);
    socket.write(connectPacket(d.id));
    await new Promise((r) => socket.once('data', r)); // CONNACK
    const before = (await rejections())['packet-too-large'] ?? 0;
    socket.write(Buffer.concat([Buffer.from([0x32]), varint(MB200)]));
    const closed = closesWithin(socket, 3_000);
    const sent = await pour(socket, 64 << 20);
    expect(await closed).toBe(true);
    expect(sent).toBeLessThan(64 << 20);
    expect((await rejections())['packet-too-large']).toBe(before + 1);
  });

  it('a revoked device is dropped at the TLS handshake: its 200 MB CONNECT is never read', async () => {
    const d = await enrolled('revoked');
    const r = await s.api.post(`/api/v1/devices/${d.id}/revoke`, { reason: 'keyCompromise' }, operator.key);
    expect(r.status).toBe(200);
    const before = (await rejections())['certificate-revoked'] ?? 0;
    const socket = await openTls(d).catch(() => null);
    if (socket) {
      socket.write(Buffer.concat([Buffer.from([0x10]), varint(MB200)]));
      const closed = closesWithin(socket, 3_000);
      await pour(socket, 16 << 20);
      expect(await closed).toBe(true);
    }
    expect((await rejections())['certificate-revoked']).toBe(before + 1);
  });

  it('one certificate holds at most 3 connections at once', async () => {
    const d = await enrolled('many');
    const held = [await openTls(d), await openTls(d), await openTls(d)];
    const fourth = await openTls(d).catch(() => null);
    if (fourth) expect(await closesWithin(fourth, 3_000)).toBe(true);
    for (const h of held) expect(h.destroyed).toBe(false);
    for (const h of held) h.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await openTls(d);
    expect(await closesWithin(again, 500)).toBe(false);
    again.destroy();
  });

  it('on the plain port a 200 MB CONNECT (no certificate at all) is dropped at its header', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: s.ports.mqttPlain! });
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    const before = (await rejections())['connect-too-large'] ?? 0;
    socket.write(Buffer.concat([Buffer.from([0x10]), varint(MB200)]));
    const closed = closesWithin(socket, 3_000);
    await pour(socket, 32 << 20);
    expect(await closed).toBe(true);
    expect((await rejections())['connect-too-large']).toBe(before + 1);
  });

  const haveMosquitto = fs.existsSync('/usr/bin/mosquitto_pub');
  (haveMosquitto ? it : it.skip)('a QoS 2 publish is refused (counted, connection dropped), so no inbound QoS 2 state is kept', async () => {
    const d = await enrolled('qos2');
    const before = (await rejections())['qos2-refused'] ?? 0;
    const args = ['-h', 'localhost', '-p', String(s.ports.mqtt), '--cafile', cafile, '--cert', d.cert, '--key', d.key, '-i', d.id, '-t', `fleet/v1/devices/${d.id}/status`, '-m', '{"online":true}', '-q', '2', '-c'];
    const code = await new Promise<number>((resolve) => execFile('mosquitto_pub', args, { timeout: 30_000 }, (err) => resolve(err ? 1 : 0)));
    expect(code).not.toBe(0);
    expect((await rejections())['qos2-refused']).toBe(before + 1);
  });
});
