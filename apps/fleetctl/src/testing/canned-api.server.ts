import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP server answering canned JSON, recording each request. Only for checking the
 * requests fleetctl sends and how it maps answers to exit codes; the real service is tested
 * end to end elsewhere.
 */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body parsed as JSON, or undefined. */
  readonly json: any;
}

export interface CannedAnswer {
  readonly status?: number;
  readonly json?: unknown;
  /** A raw body instead of JSON. */
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
}

export type Route = CannedAnswer | ((req: RecordedRequest) => CannedAnswer);

export interface CannedApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Routes keyed `METHOD /path` (path without the query). Unknown routes answer 404 JSON. */
  readonly routes: Map<string, Route>;
  close(): Promise<void>;
}

export async function startCannedApi(routes: Record<string, Route> = {}): Promise<CannedApi> {
  const table = new Map(Object.entries(routes));
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        json = undefined;
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body, json };
      requests.push(recorded);
      const route = table.get(`${recorded.method} ${recorded.path}`);
      const answer: CannedAnswer = route
        ? typeof route === 'function'
          ? route(recorded)
          : route
        : { status: 404, json: { statusCode: 404, error: 'Not Found', message: `no route ${recorded.method} ${recorded.path}` } };
      const status = answer.status ?? 200;
      if (answer.body !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body);
      } else if (answer.json !== undefined) {
        res.writeHead(status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.json));
      } else {
        res.writeHead(status, answer.headers);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes: table,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL where nothing listens: a port bound and released. */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
