/**
 * The whole service in this process on ephemeral ports, on a fresh PostgreSQL database, for the
 * end-to-end benches. A copy of the few lines of test/support/service.ts they need (the build
 * compiles bench/, not test/).
 *
 * The database server is postgres://postgres@127.0.0.1:5432/postgres unless FLEETGUARD_BENCH_PG
 * names another; a database `fleetguard_bench_<random>` is created on it and dropped by stop().
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { AppConfig, parseConfig } from '@fleetguard/common';
import { createRootLogger } from '@fleetguard/platform';
import { createScratchDatabase } from '@fleetguard/persistence';
import { sampleBootEvents } from '@fleetguard/attestation';
import { startService, RunningService } from '../../apps/fleet-server/src/bootstrap';

export const BENCH_PG_SERVER = process.env.FLEETGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The repository root (where package.json and firmware-samples/ are), from bench/support or dist/bench/support. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'firmware-samples'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

export interface BenchService extends RunningService {
  config: AppConfig;
  api: Api;
  adminKey: string;
  /** postgres:// URL of this run's database. */
  databaseUrl: string;
  databaseName: string;
  stop(): Promise<void>;
}

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A query on this run's database, from a connection of its own (not the service's pool). */
export function queryBenchDb<T = Record<string, unknown>>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withPg(databaseUrl, async (c) => (await c.query(sql, params)).rows as T[]);
}

/** Starts the service with a fresh PostgreSQL database; `env` overrides FLEETGUARD_* settings. */
export async function startBenchService(env: Record<string, string> = {}): Promise<BenchService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-bench-'));
  const scratch = await createScratchDatabase(BENCH_PG_SERVER, 'fleetguard_bench');
  const databaseName = scratch.name;
  const databaseUrl = scratch.url;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await scratch.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const adminKey = `fg-bench-admin-${randomBytes(16).toString('hex')}`;
  try {
    const config = parseConfig({
      FLEETGUARD_ENV: 'production',
      FLEETGUARD_DATA_DIR: path.join(dir, 'data'),
      FLEETGUARD_CERTS_DIR: path.join(dir, 'certs'),
      FLEETGUARD_BIND: '127.0.0.1',
      FLEETGUARD_HTTP_PORT: '0',
      FLEETGUARD_DEVICE_PORT: '0',
      FLEETGUARD_MQTT_PORT: '0',
      FLEETGUARD_ADMIN_KEY: adminKey,
      FLEETGUARD_CA_PASSPHRASE: 'bench-ca-passphrase-not-a-secret',
      FLEETGUARD_LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl,
      ...env,
    });
    const service = await startService(config, createRootLogger(config.logLevel));
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        await service.close();
      } finally {
        await drop();
      }
    };
    onInterrupt(stop);
    return { ...service, config, api: new Api(service.urls.operator), adminKey, databaseUrl, databaseName, stop };
  } catch (e) {
    await drop().catch(() => undefined);
    throw e;
  }
}

const interruptHandlers: Array<() => Promise<void>> = [];
let interruptInstalled = false;

/** On Ctrl-C / SIGTERM: run the clean-ups (stop the service, drop the database), then exit. */
export function onInterrupt(fn: () => Promise<void>): void {
  interruptHandlers.push(fn);
  if (interruptInstalled) return;
  interruptInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up\n`);
      void Promise.allSettled(interruptHandlers.map((h) => h())).then(() => process.exit(130));
    });
  }
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

/** A small client for the operator API (setup calls only; not what is measured). */
export class Api {
  constructor(readonly base: string) {}

  async request<T = any>(method: string, p: string, opts: { key?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
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
    return { status: res.status, body: parsed as T };
  }

  async expect<T = any>(status: number, method: string, p: string, opts: Parameters<Api['request']>[2] = {}): Promise<T> {
    const r = await this.request<T>(method, p, opts);
    if (r.status !== status) throw new Error(`${method} ${p}: HTTP ${r.status} (expected ${status}): ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }
}

export const FULL_TARGET = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };

/** An organization of a kind and an API key for it. */
export async function createTenant(s: BenchService, kind: 'manufacturer' | 'operator'): Promise<{ orgId: string; key: string }> {
  const org = await s.api.expect(201, 'POST', '/api/v1/organizations', { key: s.adminKey, body: { name: `${kind}-${randomBytes(4).toString('hex')}`, kind } });
  const key = await s.api.expect(201, 'POST', '/api/v1/api-keys', { key: s.adminKey, body: { organizationId: org.id, roles: [kind] } });
  return { orgId: org.id, key: key.key };
}

export async function createProduct(s: BenchService, key: string, over: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  return s.api.expect(201, 'POST', '/api/v1/products', {
    key,
    body: { name: `PLC-${randomBytes(4).toString('hex')}`, componentType: 'EDR', declaredRequirements: ['CR 1.1'], targetLevels: FULL_TARGET, ...over },
  });
}

/** Enrollment tokens for a product, minted through the API in batches (the API gives at most 1000 per call). */
export async function mintTokens(s: BenchService, key: string, productId: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  while (tokens.length < count) {
    const n = Math.min(1000, count - tokens.length);
    const r = await s.api.expect(201, 'POST', `/api/v1/products/${productId}/enrollment-tokens`, { key, body: { count: n, expiresInSeconds: 3600 } });
    tokens.push(...(r.tokens as string[]));
  }
  return tokens;
}

/**
 * A manufacturer with a product whose firmware release (the signed MCUboot sample) and golden boot
 * measurements are on record, through the real API: what simulated devices of that product run
 * (test/support/fleet-fixture.ts's productWithRelease).
 */
export async function productWithRelease(s: BenchService) {
  const samplesDir = path.join(repoRoot(), 'firmware-samples');
  const samples = JSON.parse(fs.readFileSync(path.join(samplesDir, 'samples.json'), 'utf8'));
  const manufacturer = await createTenant(s, 'manufacturer');
  const product = await createProduct(s, manufacturer.key, { declaredRequirements: ['CR 1.1', 'CR 3.4', 'EDR 3.14'], minSecurityCounter: 5 });
  const pub = fs.readFileSync(path.join(samplesDir, samples.keys['ec-p256'].public), 'utf8');
  await s.api.expect(201, 'POST', `/api/v1/products/${product.id}/signing-keys`, { key: manufacturer.key, body: { publicKey: pub } });
  const upload = await s.api.expect(201, 'POST', `/api/v1/products/${product.id}/firmware`, {
    key: manufacturer.key,
    raw: fs.readFileSync(path.join(samplesDir, 'good-ecdsa-p256.mcuboot.bin')),
    headers: { 'content-type': 'application/octet-stream' },
  });
  const events = sampleBootEvents();
  await s.api.expect(200, 'PUT', `/api/v1/products/${product.id}/firmware/${encodeURIComponent(upload.version)}/reference-values`, { key: manufacturer.key, body: { events } });
  const profile = {
    fw: { productId: product.id, version: upload.version as string, digest: upload.digest as string, securityCounter: upload.securityCounter as number },
    events,
  };
  return { manufacturer, product, profile, tokens: (count: number) => mintTokens(s, manufacturer.key, product.id, count) };
}

/** One sample of a Prometheus counter from GET /metrics (sum over the series matching all `labels`). */
export async function readCounter(s: BenchService, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${s.urls.operator}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
