export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

/** A small HTTP client for the operator API, shared by the tests and the benchmarks (setup calls; not what a bench measures). */
export class Api {
  constructor(readonly base: string) {}

  async request<T = any>(method: string, p: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + p, { method, headers, body: body as unknown as BodyInit });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(p: string, key?: string) {
    return this.request<T>('GET', p, { key });
  }

  post<T = any>(p: string, body: unknown, key?: string) {
    return this.request<T>('POST', p, { key, body });
  }

  /** The body of a request that must answer `status`; anything else throws with what came back. */
  async expect<T = any>(status: number, method: string, p: string, opts: RequestOptions = {}): Promise<T> {
    const r = await this.request<T>(method, p, opts);
    if (r.status !== status) throw new Error(`${method} ${p}: HTTP ${r.status} (expected ${status}): ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }
}
