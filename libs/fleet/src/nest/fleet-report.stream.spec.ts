import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FleetReportRow } from '../core/fleet-report.format';
import { streamFleetReport } from './fleet-report.stream';

const row = (i: number): FleetReportRow => ({
  id: `fg-${String(i).padStart(16, '0')}`, productId: 'p', productName: 'PLC', operatorId: null, status: 'active', integrity: 'stale',
  firmwareVersion: null, securityCounter: null, lastAttestationStatus: null, lastAttestationAt: null, affirmedAt: null,
  evidenced: null, declared: null, belowTarget: null, lastSeenAt: null, enrolledAt: null,
});

/** Serves one report from `batches` and returns what happened on both ends. */
async function serve(batches: () => AsyncGenerator<FleetReportRow[]>, format: 'csv' | 'json') {
  let serverError: unknown;
  let headersSentAtError = false;
  const server = http.createServer((_req, res) => {
    streamFleetReport(batches(), format, res, new Date('2025-06-01T00:00:00Z')).catch((e) => {
      serverError = e;
      headersSentAtError = res.headersSent;
      if (!res.headersSent) res.writeHead(500).end('early failure');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    error: () => ({ serverError, headersSentAtError }),
  };
}

describe('streamFleetReport', () => {
  it('sends the first batch before the last one is read (it streams)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    const srv = await serve(async function* () {
      yield [row(1), row(2)];
      await gate;
      yield [row(3)];
      finished = true;
    }, 'csv');
    try {
      const res = await fetch(srv.url);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes(row(2).id)) text += Buffer.from((await reader.read()).value!).toString();
      expect(finished).toBe(false);
      release();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += Buffer.from(chunk.value).toString();
      }
      expect(text.split('\r\n').filter(Boolean)).toHaveLength(4);
      expect(finished).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('writes JSON as one array, empty or not', async () => {
    const one = await serve(async function* () {
      yield [row(1)];
      yield [row(2), row(3)];
    }, 'json');
    const none = await serve(async function* () {
      /* no device */
    }, 'json');
    try {
      expect((await (await fetch(one.url)).json()).map((r: FleetReportRow) => r.id)).toEqual([row(1).id, row(2).id, row(3).id]);
      expect(await (await fetch(none.url)).json()).toEqual([]);
    } finally {
      await one.close();
      await none.close();
    }
  });

  it('fails before the first byte as an ordinary error', async () => {
    const srv = await serve(async function* () {
      throw new Error('database down');
    }, 'csv');
    try {
      const res = await fetch(srv.url);
      expect(res.status).toBe(500);
      expect(srv.error()).toEqual({ serverError: expect.objectContaining({ message: 'database down' }), headersSentAtError: false });
    } finally {
      await srv.close();
    }
  });

  it('aborts the connection when a later batch fails, so a cut report never looks complete', async () => {
    const srv = await serve(async function* () {
      yield [row(1)];
      throw new Error('database went away');
    }, 'csv');
    try {
      const outcome = await fetch(srv.url).then(
        (res) => res.text().then(() => 'complete', () => 'aborted'),
        () => 'aborted',
      );
      expect(outcome).toBe('aborted');
      expect(srv.error().headersSentAtError).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('stops reading batches when the client goes away', async () => {
    let batchesRead = 0;
    let returned = false;
    const srv = await serve(async function* () {
      try {
        for (let i = 0; i < 1000; i++) {
          batchesRead++;
          yield Array.from({ length: 1000 }, (_, k) => row(i * 1000 + k));
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        returned = true;
      }
    }, 'csv');
    try {
      const controller = new AbortController();
      const res = await fetch(srv.url, { signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      const deadline = Date.now() + 5000;
      while (!returned && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(returned).toBe(true);
      expect(batchesRead).toBeLessThan(1000);
    } finally {
      await srv.close();
    }
  });
});
