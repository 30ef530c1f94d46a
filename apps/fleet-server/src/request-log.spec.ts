import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { requestLog } from './http-setup';

/** The request line as pino-http wrote it: the fields, the levels, the messages, the redaction, the ignored probes. */
describe('requestLog', () => {
  const lines: Array<Record<string, unknown>> = [];
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(...chunk.toString().trim().split('\n').map((l) => JSON.parse(l))), cb()) });
    const app = express();
    app.use(requestLog(pino({ level: 'info' }, sink)));
    app.get('/ok', (_req, res) => void res.json({ ok: true }));
    app.get('/missing', (_req, res) => void res.status(404).json({}));
    app.get('/boom', (_req, res) => void res.status(500).json({}));
    app.get('/health/live', (_req, res) => void res.send('ok'));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('one line per response with the request id it sent back, at the level of the status', async () => {
    const ok = await fetch(`${base}/ok?token=secret-value&x=1`);
    const given = await fetch(`${base}/missing`, { headers: { 'x-request-id': 'my-id.1' } });
    const bad = await fetch(`${base}/boom`, { headers: { 'x-request-id': 'not valid!' } });
    await fetch(`${base}/health/live`);
    await new Promise((r) => setTimeout(r, 50));
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(given.headers.get('x-request-id')).toBe('my-id.1');
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.map((l) => [l.level, l.msg, (l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode])).toEqual([
      [30, 'request completed', '/ok?token=[redacted]&x=1', 200],
      [40, 'request completed', '/missing', 404],
      [50, 'request errored', '/boom', 500],
    ]);
    expect(lines[0].req).toEqual({ id: ok.headers.get('x-request-id'), method: 'GET', url: '/ok?token=[redacted]&x=1' });
    expect(typeof lines[0].responseTime).toBe('number');
    expect((lines[2].err as { message: string }).message).toBe('failed with status code 500');
  });
});
