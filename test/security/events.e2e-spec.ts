import { ADMIN_KEY, TestService, createTenant, startTestService } from '../support/service';
import { redactUrl } from '../../apps/fleet-server/src/http-setup';

/** Findings 7 and 9: the dashboard's key in the stream URL (and so in the log); a stream outliving its key. */
describe('security: the event stream', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const ticket = async (key: string) => {
    const r = await s.api.request('POST', '/api/v1/events/tickets', { key });
    expect(r.status).toBe(201);
    return r.body.ticket as string;
  };

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
