import { X509Certificate } from 'node:crypto';
import { createCsrPem, generateDeviceKey } from '../../apps/device-sim/src/device-key.generator';
import { ADMIN_KEY, TestService, createProduct, createTenant, grantEnrollment, mintTokens, startTestService } from '../support/service';
import { postDevice } from '../support/device-http';
import { redactUrl } from '../../apps/fleet-server/src/http-setup';

interface StreamedEvent {
  type: string;
  data: { id: string; type: string; deviceId?: string; audience: string[]; data: Record<string, unknown> };
}

/** An open event stream: every event it has received so far, and a wait for one that matches. */
interface OpenStream {
  events: StreamedEvent[];
  next(match: (e: StreamedEvent) => boolean, timeoutMs?: number): Promise<StreamedEvent>;
  close(): void;
}

/** Findings 7 and 9: the dashboard's key in the stream URL (and so in the log); a stream outliving its key. */
describe('security: the event stream', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService();
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
  });

  const ticket = async (key: string) => {
    const r = await s.api.request('POST', '/api/v1/events/tickets', { key });
    expect(r.status).toBe(201);
    return r.body.ticket as string;
  };

  /** Opens GET /api/v1/events with a fresh ticket and parses its server-sent events as they arrive. */
  async function openStream(key: string): Promise<OpenStream> {
    const ac = new AbortController();
    const res = await fetch(`${s.urls.operator}/api/v1/events?ticket=${await ticket(key)}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const events: StreamedEvent[] = [];
    const waiters = new Set<() => void>();
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) => frame.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
            const type = field('event');
            const data = field('data');
            if (type && data && type !== 'ping') events.push({ type, data: JSON.parse(data) });
          }
          for (const w of waiters) w();
        }
      } catch {
        // aborted by close()
      }
    })();
    return {
      events,
      next: (match, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const found = events.find(match);
            if (!found) return;
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`no matching event within ${timeoutMs} ms; received: ${JSON.stringify(events.map((e) => [e.type, e.data.deviceId]))}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
      close: () => ac.abort(),
    };
  }

  it('device.enrolled reaches the streams of the device\'s manufacturer and operator (grant and plain-token enrollment), and no other tenant\'s', async () => {
    const maker = await createTenant(s.api, 'manufacturer');
    const op = await createTenant(s.api, 'operator');
    const other = await createTenant(s.api, 'operator');
    const product = await createProduct(s.api, maker.key);
    const ca = (await s.api.get('/pki/ca')).body as string;
    const streams = { maker: await openStream(maker.key), op: await openStream(op.key), other: await openStream(other.key) };
    try {
      const enroll = async (token: string) => {
        const r = await postDevice(`${s.urls.device}/enroll`, { token, csr: await createCsrPem(await generateDeviceKey('P-256')) }, ca);
        expect(r.status).toBe(201);
        const cert = new X509Certificate(r.body.certificate as string);
        return { deviceId: r.body.deviceId as string, serial: cert.serialNumber.toLowerCase(), notAfter: new Date(cert.validTo).toISOString() };
      };
      // Into the operator's fleet: the grant is spent in the enrollment's transaction.
      const grantId = await grantEnrollment(s.api, op.key, maker.orgId, { productId: product.id, maxDevices: 1 });
      const granted = await enroll((await mintTokens(s.api, maker.key, product.id, 1, { grantId }))[0]);
      // The manufacturer's own device: the grouped claim statement.
      const own = await enroll((await mintTokens(s.api, maker.key, product.id, 1))[0]);

      const enrolled = (deviceId: string) => (e: StreamedEvent) => e.type === 'device.enrolled' && e.data.deviceId === deviceId;
      const atOperator = await streams.op.next(enrolled(granted.deviceId));
      expect(atOperator.data).toMatchObject({
        type: 'device.enrolled',
        audience: [maker.orgId, op.orgId],
        data: { status: 'active', productId: product.id, serial: granted.serial, notAfter: granted.notAfter, channel: 'enroll' },
      });
      expect((await streams.maker.next(enrolled(granted.deviceId))).data.id).toBe(atOperator.data.id);
      expect((await streams.maker.next(enrolled(own.deviceId))).data).toMatchObject({ audience: [maker.orgId], data: { serial: own.serial, productId: product.id } });

      await new Promise((r) => setTimeout(r, 500)); // anything misrouted would have arrived with the rest
      expect(streams.op.events.some(enrolled(own.deviceId))).toBe(false);
      expect(streams.other.events.filter((e) => e.type === 'device.enrolled')).toEqual([]);
    } finally {
      for (const st of Object.values(streams)) st.close();
    }
  });

  it('an API key in the query string no longer opens the stream', async () => {
    const { key } = await createTenant(s.api, 'operator');
    const r = await fetch(`${s.urls.operator}/api/v1/events?key=${encodeURIComponent(key)}`, { signal: AbortSignal.timeout(5_000) });
    expect(r.status).toBe(401);
  });

  it('a ticket opens one stream, once', async () => {
    const { key } = await createTenant(s.api, 'operator');
    const t = await ticket(key);
    const ac = new AbortController();
    const first = await fetch(`${s.urls.operator}/api/v1/events?ticket=${t}`, { signal: ac.signal });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/text\/event-stream/);
    const again = await fetch(`${s.urls.operator}/api/v1/events?ticket=${t}`, { signal: AbortSignal.timeout(5_000) });
    expect(again.status).toBe(401);
    ac.abort();
    expect((await fetch(`${s.urls.operator}/api/v1/events?ticket=not-a-ticket`)).status).toBe(401);
  });

  it('the stream ends when its key is revoked', async () => {
    const { key, keyId } = await createTenant(s.api, 'operator');
    const res = await fetch(`${s.urls.operator}/api/v1/events?ticket=${await ticket(key)}`, { signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect((await s.api.request('DELETE', `/api/v1/api-keys/${keyId}`, { key: ADMIN_KEY })).status).toBe(204);
    const started = Date.now();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('the request log never carries a key or ticket from the query string', () => {
    expect(redactUrl('/api/v1/events?key=fg_0123456789abcdef_secret&x=1')).toBe('/api/v1/events?key=[redacted]&x=1');
    expect(redactUrl('/api/v1/events?a=b&ticket=abc')).toBe('/api/v1/events?a=b&ticket=[redacted]');
    expect(redactUrl('/api/v1/devices?limit=5')).toBe('/api/v1/devices?limit=5');
  });
});
