import { CliError, EXIT, unavailableError, usageError } from './exit-codes';

/** The JSON error body of the operator API (SPEC.md, "Operator API"). */
export interface ApiErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly code?: string;
  readonly errorId?: string;
}

/**
 * A non-2xx answer. 4xx (the service refused) ends the command with exit 1; 5xx (the service
 * failed) with exit 3, like a service that cannot be reached: in both cases a retry may help.
 */
export class ApiError extends CliError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(describe(method, path, status, body), status >= 500 ? EXIT.unavailable : EXIT.refused, body.code);
    this.name = 'ApiError';
  }
}

const HINTS: Readonly<Record<number, string>> = {
  401: 'check the API key (--key, FLEETCTL_KEY, or fleetctl login)',
  403: "this API key's roles do not allow it",
  404: 'it does not exist, or belongs to another organization',
};

function describe(method: string, path: string, status: number, body: ApiErrorBody): string {
  const what = `${method} ${path} -> ${status}${body.error ? ` ${body.error}` : ''}`;
  const reason = body.message && body.message !== body.error ? `: ${body.message}` : '';
  const hint = HINTS[status] ? ` (${HINTS[status]})` : '';
  const id = body.errorId ? ` [error id ${body.errorId}]` : '';
  return `${what}${reason}${hint}${id}`;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

export interface ApiClientOptions {
  /** Service root, e.g. http://127.0.0.1:3000 (the client adds /api/v1). */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; never printed. */
  readonly apiKey?: string;
  readonly fetch: typeof fetch;
}

export interface StreamedBody {
  readonly body: ReadableStream<Uint8Array>;
  /** null when the service streams without a Content-Length. */
  readonly contentLength: number | null;
  readonly contentType: string | null;
}

export interface UploadOptions {
  /** Default POST. */
  readonly method?: 'POST' | 'PUT';
  readonly contentType: string;
  readonly contentLength?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Parses and normalises the service URL given by flag, environment or saved login. */
export function normaliseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--url ${JSON.stringify(raw)} is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be http:// or https://, not ${url.protocol}`);
  if (url.username || url.password) throw usageError('--url must not carry credentials; give the API key with --key');
  if (url.search || url.hash) throw usageError('--url must not carry a query or fragment');
  // Accept the URL of the API itself as well as the service root.
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.origin}${path}`;
}

/** A typed client of the operator API: JSON in, JSON out, errors as `ApiError` / exit codes. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, { query });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, { body });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PUT', path, { body });
  }

  delete<T = void>(path: string): Promise<T> {
    return this.json<T>('DELETE', path, {});
  }

  /** POSTs a raw body streamed from `body` (never buffered), and reads a JSON answer. */
  async upload<T>(path: string, body: ReadableStream<Uint8Array>, options: UploadOptions): Promise<T> {
    const headers: Record<string, string> = { 'content-type': options.contentType, ...options.headers };
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    // redirect 'error': with 'follow' (and even 'manual') undici keeps every chunk of a streamed
    // body to be able to replay it, so a 1 GiB upload would take 1 GiB of memory.
    const method = options.method ?? 'POST';
    const res = await this.send(method, path, { headers, body, duplex: 'half', redirect: 'error' } as RequestInit);
    return readJson<T>(method, path, res);
  }

  /** GETs a body to be streamed somewhere (a report export); the caller consumes `body`. */
  async download(path: string, query?: Query): Promise<StreamedBody> {
    const res = await this.send('GET', withQuery(path, query), { headers: { accept: '*/*' } });
    if (!res.body) throw unavailableError(`GET ${path}: the service sent no body`);
    const length = res.headers.get('content-length');
    return {
      body: res.body,
      contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : null,
      contentType: res.headers.get('content-type'),
    };
  }

  /** The full URL of an API path, for messages. */
  url(path: string): string {
    return `${this.baseUrl}/api/v1${path}`;
  }

  private async json<T>(method: string, path: string, opts: { query?: Query; body?: unknown }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const init: RequestInit = { headers };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    const res = await this.send(method, withQuery(path, opts.query), init);
    return readJson<T>(method, path, res);
  }

  /** Sends a request; resolves only on 2xx. Network failures become exit 3, error statuses ApiError. */
  private async send(method: string, path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.options.apiKey) headers.set('authorization', `Bearer ${this.options.apiKey}`);
    headers.set('user-agent', 'fleetctl');
    let res: Response;
    try {
      // Redirects are not followed: the API key would go along, and a URL that redirects is
      // better fixed in --url once (see redirected()).
      res = await this.options.fetch(this.url(path), { redirect: 'manual', ...init, method, headers });
    } catch (e) {
      if (e instanceof CliError) throw e;
      const reason = networkReason(e);
      if (reason === 'unexpected redirect') throw redirected(method, path, null);
      throw unavailableError(`cannot reach the service at ${this.baseUrl}: ${reason}`, 'unreachable');
    }
    if (res.ok) return res;
    if (res.status >= 300 && res.status < 400) throw redirected(method, path, res.headers.get('location'));
    throw new ApiError(method, path.split('?')[0], res.status, await readErrorBody(res));
  }
}

/** A redirect means --url is not the service's own URL (http behind an https proxy, a moved host). */
function redirected(method: string, path: string, location: string | null): CliError {
  const where = location ? ` to ${location}` : '';
  return usageError(`${method} ${path.split('?')[0]}: the service redirects${where}; give its final URL with --url`, 'redirect');
}

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function readJson<T>(method: string, path: string, res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (text.trim() === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw unavailableError(`${method} ${path}: the service answered ${res.status} with a body that is not JSON`, 'bad-response');
  }
}

async function readErrorBody(res: Response): Promise<ApiErrorBody> {
  const fallback: ApiErrorBody = { statusCode: res.status, error: res.statusText || `HTTP ${res.status}`, message: '' };
  let text: string;
  try {
    text = await res.text();
  } catch {
    return fallback;
  }
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody> & { message?: unknown };
    const message = Array.isArray(body.message) ? body.message.join('; ') : typeof body.message === 'string' ? body.message : '';
    return {
      statusCode: typeof body.statusCode === 'number' ? body.statusCode : res.status,
      error: typeof body.error === 'string' ? body.error : fallback.error,
      message,
      ...(typeof body.code === 'string' ? { code: body.code } : {}),
      ...(typeof body.errorId === 'string' ? { errorId: body.errorId } : {}),
    };
  } catch {
    // Not our JSON (a proxy's HTML page): keep the first line, short.
    const line = text.split('\n').find((l) => l.trim())?.trim().slice(0, 200) ?? '';
    return { ...fallback, message: line };
  }
}

/** undici's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, a TLS error...). */
function networkReason(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.code && cause.message && !cause.message.includes(cause.code)) return `${cause.code} ${cause.message}`;
  return cause?.message || cause?.code || err?.message || String(e);
}
