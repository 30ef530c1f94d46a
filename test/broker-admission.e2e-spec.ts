import * as net from 'node:net';
import * as tls from 'node:tls';
import { TestService, startTestService } from './support/service';

jest.setTimeout(120_000);

/**
 * Connection admission on the MQTT listener, with raw sockets and Node's TLS client: a connection
 * over the handshake limit or the connect rate waits (unread, no TLS) while there is room, and
 * starts its handshake when a slot and a token are free; one with the wait room full, or that
 * waited too long, is closed before any TLS is spent on it, counted by reason, and the operator
 * API keeps answering meanwhile.
 */
describe('MQTT connection admission', () => {
  let s: TestService;
  let port: number;

  beforeAll(async () => {
    s = await startTestService({
      FLEETGUARD_MQTT_CONNECT_RATE: '5',
      FLEETGUARD_MQTT_MAX_HANDSHAKES: '3',
      FLEETGUARD_MQTT_HANDSHAKE_QUEUE: '2',
      FLEETGUARD_MQTT_HANDSHAKE_WAIT_SECONDS: '3',
    });
    // (the handshake timeout, 10 s, is what frees a connection that never says hello: tested below)
    port = Number(new URL(s.urls.mqtt).port);
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function metric(name: string, reason?: string): Promise<number> {
    const text: string = (await s.api.get('/metrics')).body;
    const re = reason ? new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, 'm') : new RegExp(`^${name} (\\d+)`, 'm');
    return Number(re.exec(text)?.[1] ?? 0);
  }

  /** A TCP connection that never sends a ClientHello: its handshake stays in progress. */
  function idle(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
      sock.on('error', () => undefined);
      sock.once('error', reject);
    });
  }

  /** Whether the server closed the socket without a byte within `ms` (refused before TLS). */
  function closedAtOnce(sock: net.Socket, ms = 1000): Promise<boolean> {
    return new Promise((resolve) => {
      if (sock.destroyed) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      sock.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** A TLS handshake attempt without a client certificate: 'refused' if closed before any TLS record came back. */
  function tlsAttempt(): Promise<'refused' | 'tls'> {
    return new Promise((resolve) => {
      let bytes = 0;
      const sock = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
      sock.on('secureConnect', () => (bytes = 1));
      const end = () => resolve(bytes > 0 ? 'tls' : 'refused');
      sock.once('error', (e: NodeJS.ErrnoException) => {
        // A TLS alert (certificate required) means the server did the handshake.
        if (/alert|certificate/i.test(e.message)) bytes = 1;
        end();
      });
      sock.once('close', end);
    });
  }

  const settle = () => new Promise((r) => setTimeout(r, 300));
  async function allSettled(): Promise<void> {
    for (let i = 0; i < 50 && (await metric('fleetguard_mqtt_tls_handshakes_in_progress')) + (await metric('fleetguard_mqtt_tls_handshakes_waiting')) > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await metric('fleetguard_mqtt_tls_handshakes_in_progress')).toBe(0);
    expect(await metric('fleetguard_mqtt_tls_handshakes_waiting')).toBe(0);
  }

  it('holds at most the configured number of handshakes in progress, lets a few wait unread, and closes the rest before TLS', async () => {
    const before = await metric('fleetguard_mqtt_rejections_total', 'handshakes-in-progress');
    const waitedBefore = await metric('fleetguard_mqtt_rejections_total', 'handshake-wait');
    const socks: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) socks.push(await idle());
      const extra = await Promise.all([idle(), idle(), idle(), idle()]);
      socks.push(...extra);
      // Two wait (the room holds 2), two are closed at once.
      const closed = await Promise.all(extra.map((x) => closedAtOnce(x)));
      expect(closed.filter(Boolean)).toHaveLength(2);
      const waiting = extra.filter((_x, i) => !closed[i]);
      // The three admitted ones are still open, waiting in their handshakes.
      expect(await Promise.all(socks.slice(0, 3).map((x) => closedAtOnce(x, 200)))).toEqual([false, false, false]);
      expect(await metric('fleetguard_mqtt_rejections_total', 'handshakes-in-progress')).toBe(before + 2);
      expect(await metric('fleetguard_mqtt_tls_handshakes_in_progress')).toBe(3);
      expect(await metric('fleetguard_mqtt_tls_handshakes_waiting')).toBe(2);
      // The operator API answers while the broker is saturated with handshakes.
      expect((await s.api.get('/health/live')).status).toBe(200);
      // A handshake ends: the first waiter takes its slot.
      socks[0].destroy();
      await settle();
      expect(await metric('fleetguard_mqtt_tls_handshakes_in_progress')).toBe(3);
      expect(await metric('fleetguard_mqtt_tls_handshakes_waiting')).toBe(1);
      // The other has waited its 3 s by now or soon: closed, before TLS, and counted.
      const stillWaiting = [];
      for (const x of waiting) if (!(await closedAtOnce(x, 10))) stillWaiting.push(x);
      expect(stillWaiting).toHaveLength(2); // the started one waits in its handshake, the other in the room
      const outcomes = await Promise.all(stillWaiting.map((x) => closedAtOnce(x, 4000)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect(await metric('fleetguard_mqtt_rejections_total', 'handshake-wait')).toBe(waitedBefore + 1);
    } finally {
      for (const x of socks) x.destroy();
    }
    await allSettled();
  });

  it('a connection that waited for a slot gets its TLS handshake when one frees', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // tokens for the connections below
    const socks: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) socks.push(await idle());
      const attempt = tlsAttempt(); // its ClientHello waits in the kernel, unread
      await settle();
      expect(await metric('fleetguard_mqtt_tls_handshakes_waiting')).toBe(1);
      socks[0].destroy();
      expect(await attempt).toBe('tls');
    } finally {
      for (const x of socks) x.destroy();
    }
    await allSettled();
  });

  it('closes a connection that never finishes its TLS handshake after the handshake timeout', async () => {
    const sock = await idle();
    const t0 = Date.now();
    expect(await closedAtOnce(sock, 20_000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9_000);
  });

  it('starts handshakes at the configured rate: connections over it wait for a token instead of being closed', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // the bucket refills to its burst (5)
    const before = await metric('fleetguard_mqtt_rejections_total', 'connect-rate');
    const t0 = Date.now();
    const outcomes: string[] = [];
    for (let i = 0; i < 15; i++) outcomes.push(await tlsAttempt());
    const elapsed = Date.now() - t0;
    // All get their handshake: 5 from the burst, the other 10 one after another at 5 a second.
    expect(outcomes).toEqual(Array(15).fill('tls'));
    expect(elapsed).toBeGreaterThanOrEqual(1800);
    expect(await metric('fleetguard_mqtt_rejections_total', 'connect-rate')).toBe(before);
    await allSettled();
  });
});
