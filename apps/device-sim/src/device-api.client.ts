/**
 * HTTP(S) as a device speaks it: `GET /pki/ca` on the operator listener, and the device listener
 * (`/enroll` with a token; `/attestation/*` and `/devices/self/hardening` with the client
 * certificate), trusting only the Fleetguard chain. Uses node:http(s) with an explicit agent per
 * client (global fetch cannot present a client certificate), destroyed by close().
 */
import * as http from 'node:http';
import * as https from 'node:https';

export class DeviceApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'DeviceApiError';
  }
}

export interface EnrollRequest {
  token: string;
  csr: string;
  akPublicKey?: string;
  /** PSA devices: the Initial Attestation Key (PEM) and identities (hex). */
  iakPublicKey?: string;
  psaInstanceId?: string;
  psaImplementationId?: string;
  /** RFC 9711 UEID, hex. */
  ueid?: string;
}

export interface EnrollResponse {
  deviceId: string;
  certificate: string;
  chain: string;
}

export interface ChallengeResponse {
  nonce: string;
  expiresAt: string;
}

interface RawResponse {
  status: number;
  text: string;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

function join(base: string, path: string): URL {
  return new URL(base.replace(/\/+$/, '') + path);
}

function request(url: URL, options: { method: string; body?: string; agent: http.Agent | false; timeoutMs: number; headers?: Record<string, string> }): Promise<RawResponse> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!mod) return Promise.reject(new DeviceApiError(`unsupported URL scheme in ${url.href} (http or https)`, 0));
  return new Promise<RawResponse>((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json, application/x-pem-file, text/plain', ...options.headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = mod.request(url, { method: options.method, agent: options.agent, headers, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new DeviceApiError(`${options.method} ${url.pathname}: response larger than ${MAX_RESPONSE_BYTES} bytes`, res.statusCode ?? 0));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new DeviceApiError(`${options.method} ${url.href}: no response within ${options.timeoutMs} ms`, 0)));
    req.on('error', (e) =>
      reject(e instanceof DeviceApiError ? e : new DeviceApiError(`${options.method} ${url.href}: ${(e as Error).message}`, 0)),
    );
    req.end(options.body);
  });
}

function parseJson(res: RawResponse): unknown {
  try {
    return res.text ? JSON.parse(res.text) : undefined;
  } catch {
    return res.text;
  }
}

/** Throws DeviceApiError with the service's message (`{statusCode, error, message}`) for a non-2xx answer. */
function expectOk(res: RawResponse, what: string): unknown {
  const body = parseJson(res);
  if (res.status >= 200 && res.status < 300) return body;
  const message = body && typeof body === 'object' && 'message' in body ? (body as { message: unknown }).message : res.text.slice(0, 300);
  throw new DeviceApiError(`${what} failed with HTTP ${res.status}: ${Array.isArray(message) ? message.join('; ') : String(message)}`, res.status, body);
}

function requireString(body: unknown, field: string, what: string): string {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  if (typeof value !== 'string' || value === '') throw new DeviceApiError(`${what}: the response has no '${field}'`, 200, body);
  return value;
}

/** The CA chain (root + intermediate PEM) from the operator listener's `GET /pki/ca`; no auth. */
export async function fetchCaChain(operatorUrl: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const res = await request(join(operatorUrl, '/pki/ca'), { method: 'GET', agent: false, timeoutMs });
  expectOk(res, 'GET /pki/ca');
  if (!res.text.includes('-----BEGIN CERTIFICATE-----')) throw new DeviceApiError('GET /pki/ca: the response is not a PEM certificate chain', res.status);
  return res.text;
}

export interface DeviceApiClientOptions {
  /** Device listener base URL, e.g. https://127.0.0.1:8443. */
  baseUrl: string;
  /** Trust anchors for the server certificate (PEM chain from /pki/ca). */
  caPem: string;
  /** Client certificate (PEM, leaf first, may carry intermediates) and its private key (PKCS#8 PEM). */
  clientCert?: { certPem: string; keyPem: string };
  timeoutMs?: number;
}

/** The device listener, with or without a client certificate. Keeps connections alive until close(). */
export class DeviceApiClient {
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: DeviceApiClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      ca: options.caPem,
      ...(options.clientCert ? { cert: options.clientCert.certPem, key: options.clientCert.keyPem } : {}),
    });
  }

  async enroll(body: EnrollRequest): Promise<EnrollResponse> {
    const res = expectOk(await this.post('/enroll', body), 'POST /enroll');
    return {
      deviceId: requireString(res, 'deviceId', 'POST /enroll'),
      certificate: requireString(res, 'certificate', 'POST /enroll'),
      chain: requireString(res, 'chain', 'POST /enroll'),
    };
  }

  async challenge(): Promise<ChallengeResponse> {
    const res = expectOk(await this.post('/attestation/challenge', {}), 'POST /attestation/challenge');
    return { nonce: requireString(res, 'nonce', 'POST /attestation/challenge'), expiresAt: String((res as Record<string, unknown>).expiresAt ?? '') };
  }

  async evidence(evidence: string): Promise<string> {
    const res = expectOk(await this.post('/attestation/evidence', { evidence }), 'POST /attestation/evidence');
    return requireString(res, 'ear', 'POST /attestation/evidence');
  }

  /** A PSA attestation token (base64url) instead of an EAT; answers the EAR. */
  async psaEvidence(psaToken: string): Promise<string> {
    const res = expectOk(await this.post('/attestation/evidence', { psaToken }), 'POST /attestation/evidence');
    return requireString(res, 'ear', 'POST /attestation/evidence');
  }

  async hardening(report: unknown): Promise<unknown> {
    return expectOk(await this.post('/devices/self/hardening', report), 'POST /devices/self/hardening');
  }

  close(): void {
    this.agent.destroy();
  }

  private post(path: string, body: unknown): Promise<RawResponse> {
    return request(join(this.options.baseUrl, path), { method: 'POST', body: JSON.stringify(body), agent: this.agent, timeoutMs: this.timeoutMs });
  }
}
