/**
 * The whole service in this process on ephemeral ports, on a fresh PostgreSQL database, for the
 * end-to-end benches. The API client, settings and fixtures are the tests' own kit
 * (test/support, which the build compiles for the benches).
 *
 * The database server is the local PostgreSQL over its Unix socket (/var/run/postgresql) when that
 * socket is there, else postgres://postgres@127.0.0.1:5432/postgres, unless FLEETGUARD_BENCH_PG
 * names another; a database `fleetguard_bench_<random>` is created on it and dropped by stop().
 * The socket, because that is how a service beside its database connects: over TCP loopback
 * every statement costs both ends the kernel's TCP path (in four alternated pairs of
 * bench:attest, 2026-12-04, the closed loop was 1,437-1,518/s over TCP against 1,450-1,670/s
 * over the socket, the service's main thread 0.40-0.44 against 0.35-0.43 ms per appraisal).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { AppConfig, parseConfig } from '@fleetguard/common';
import { createRootLogger } from '@fleetguard/platform/nest';
import { createScratchDatabase } from '@fleetguard/persistence';
import { startService, RunningService } from '../../apps/fleet-server/src/bootstrap';
import { Api } from '../../test/support/api';
import { createProduct as kitCreateProduct, createTenant as kitCreateTenant, ephemeralEnv, mintTokens as kitMintTokens } from '../../test/support/service';
import { productWithRelease as kitProductWithRelease } from '../../test/support/fleet-fixture';

export { Api };
export { FULL_TARGET } from '../../test/support/service';

const LOCAL_PG_SOCKET_DIR = '/var/run/postgresql';

export const BENCH_PG_SERVER =
  process.env.FLEETGUARD_BENCH_PG ??
  (fs.existsSync(path.join(LOCAL_PG_SOCKET_DIR, '.s.PGSQL.5432')) ? `postgres://postgres@localhost/postgres?host=${LOCAL_PG_SOCKET_DIR}` : 'postgres://postgres@127.0.0.1:5432/postgres');

/** How the benches reach PostgreSQL, for their JSON: the socket directory or host:port of BENCH_PG_SERVER. */
export function benchPgConnection(url = BENCH_PG_SERVER): string {
  const u = new URL(url);
  const host = u.searchParams.get('host') ?? decodeURIComponent(u.hostname);
  return host.startsWith('/') ? `unix socket ${host}` : `tcp ${host}:${u.port || 5432}`;
}

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
  /**
   * Closes the service (every listener and connection, as a shutdown does) and starts a new one
   * in this process on the same database, certs directory and ports: a restart of the instance.
   * The fields of this object (app, urls, config, ...) are the new instance's afterwards. What
   * an in-process restart keeps that a new process would not: V8's compiled code and the
   * modules' load; every Nest provider, cache and pool is new.
   */
  restart(): Promise<{ closeMs: number; bootMs: number }>;
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
    const configEnv: Record<string, string> = {
      FLEETGUARD_ENV: 'production',
      ...ephemeralEnv(dir),
      FLEETGUARD_ADMIN_KEY: adminKey,
      FLEETGUARD_CA_PASSPHRASE: 'bench-ca-passphrase-not-a-secret',
      FLEETGUARD_LOG_LEVEL: 'silent',
      // Closed loops run each device far above a real device's rate: the per-device limit would measure itself.
      FLEETGUARD_DEVICE_RATE_PER_MINUTE: '100000',
      DATABASE_URL: databaseUrl,
      ...env,
    };
    const config = parseConfig(configEnv);
    const logger = createRootLogger(config.logLevel);
    let current = await startService(config, logger);
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        await current.close();
      } finally {
        await drop();
      }
    };
    onInterrupt(stop);
    const handle: BenchService = {
      ...current,
      config,
      api: new Api(current.urls.operator),
      adminKey,
      databaseUrl,
      databaseName,
      stop,
      restart: async () => {
        const t0 = performance.now();
        const { ports } = current;
        await current.close();
        const t1 = performance.now();
        const again = parseConfig({
          ...configEnv,
          FLEETGUARD_HTTP_PORT: String(ports.http),
          FLEETGUARD_DEVICE_PORT: String(ports.device),
          FLEETGUARD_MQTT_PORT: String(ports.mqtt),
          ...(ports.mqttPlain !== undefined ? { FLEETGUARD_MQTT_PLAIN_PORT: String(ports.mqttPlain) } : {}),
        });
        current = await startService(again, logger);
        Object.assign(handle, { app: current.app, logger: current.logger, urls: current.urls, ports: current.ports, close: current.close, config: again });
        return { closeMs: t1 - t0, bootMs: performance.now() - t1 };
      },
    };
    return handle;
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

/** An organization of a kind and an API key for it. */
export async function createTenant(s: BenchService, kind: 'manufacturer' | 'operator'): Promise<{ orgId: string; key: string }> {
  return kitCreateTenant(s.api, kind, undefined, s.adminKey);
}

export async function createProduct(s: BenchService, key: string, over: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  return kitCreateProduct(s.api, key, over);
}

/** Enrollment tokens for a product, minted through the API in batches. */
export function mintTokens(s: BenchService, key: string, productId: string, count: number): Promise<string[]> {
  return kitMintTokens(s.api, key, productId, count);
}

/** A manufacturer with a product, its signed release and golden boot measurements: the tests' fixture. */
export function productWithRelease(s: BenchService) {
  return kitProductWithRelease(s.api, { adminKey: s.adminKey });
}

/** One sample of a Prometheus counter from GET /metrics (sum over the series matching all `labels`). */
export function readCounter(s: BenchService, name: string, labels: Record<string, string> = {}): Promise<number> {
  return readMetric(s.urls.operator, s.adminKey, name, labels);
}

/**
 * One sample of a metric from `<operatorUrl>/metrics`, read with an admin key (the service's
 * /metrics needs one unless FLEETGUARD_METRICS_PUBLIC=true): the sum over the series of `name`
 * matching all `labels`. Throws when /metrics does not answer 200 (a 401 would read as zero).
 */
export async function readMetric(operatorUrl: string, adminKey: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${operatorUrl}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${operatorUrl}/metrics: HTTP ${res.status} ${text.slice(0, 200)}`);
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
