import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppConfig, parseConfig } from '@fleetguard/common';
import { createRootLogger } from '@fleetguard/platform/nest';
import { startService, RunningService } from '../../apps/fleet-server/src/bootstrap';
import { TEST_PG_URL, createPostgresDatabase } from './test-database';
import { Api } from './api';

export const ADMIN_KEY = 'fg-test-admin-key-0123456789abcdef';

export interface TestService extends RunningService {
  config: AppConfig;
  dir: string;
  api: Api;
  stop(): Promise<void>;
}

/** Settings for a service of its own: data and certificates under `dir`, every listener on a free loopback port. */
export function ephemeralEnv(dir: string): Record<string, string> {
  return {
    FLEETGUARD_DATA_DIR: path.join(dir, 'data'),
    FLEETGUARD_CERTS_DIR: path.join(dir, 'certs'),
    FLEETGUARD_BIND: '127.0.0.1',
    FLEETGUARD_HTTP_PORT: '0',
    FLEETGUARD_DEVICE_PORT: '0',
    FLEETGUARD_MQTT_PORT: '0',
  };
}

/** Starts the whole service in this process on ephemeral ports, on PGlite in a temp dir or a fresh PostgreSQL database. */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-test-'));
  const db = TEST_PG_URL ? await createPostgresDatabase(TEST_PG_URL) : null;
  const config = parseConfig({
    FLEETGUARD_ENV: 'test',
    ...ephemeralEnv(dir),
    FLEETGUARD_ADMIN_KEY: ADMIN_KEY,
    FLEETGUARD_CA_PASSPHRASE: 'test-ca-passphrase-123',
    FLEETGUARD_LOG_LEVEL: process.env.FLEETGUARD_TEST_LOG ?? 'silent',
    // the suites read counters from /metrics; test/security checks the keyed default
    FLEETGUARD_METRICS_PUBLIC: 'true',
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  const service = await startService(config, createRootLogger(config.logLevel));
  return {
    ...service,
    config,
    dir,
    api: new Api(service.urls.operator),
    async stop() {
      await service.close();
      await db?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { Api } from './api';
export type { ApiResponse, RequestOptions } from './api';

/** Factories for tenants: an organization of a kind and a key with roles. */
export async function createTenant(api: Api, kind: 'manufacturer' | 'operator', roles?: string[], adminKey = ADMIN_KEY) {
  const name = `${kind}-${Math.random().toString(36).slice(2, 10)}`;
  const org = await api.post('/api/v1/organizations', { name, kind }, adminKey);
  if (org.status !== 201) throw new Error(`create org: ${org.status} ${JSON.stringify(org.body)}`);
  const key = await api.post('/api/v1/api-keys', { organizationId: org.body.id, roles: roles ?? [kind] }, adminKey);
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${JSON.stringify(key.body)}`);
  return { orgId: org.body.id as string, key: key.body.key as string, keyId: key.body.id as string };
}

export const FULL_TARGET = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };

export async function createProduct(api: Api, key: string, over: Record<string, unknown> = {}) {
  const res = await api.post(
    '/api/v1/products',
    { name: `PLC-${Math.random().toString(36).slice(2, 8)}`, componentType: 'EDR', declaredRequirements: ['CR 1.1'], targetLevels: FULL_TARGET, ...over },
    key,
  );
  if (res.status !== 201) throw new Error(`create product: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** An operator's consent (enrollment grant) for a manufacturer's devices to enter its fleet. */
export async function grantEnrollment(api: Api, operatorKey: string, manufacturerOrgId: string, opts: { productId?: string; maxDevices?: number; expiresInSeconds?: number } = {}): Promise<string> {
  const r = await api.post('/api/v1/enrollment-grants', { manufacturerOrganizationId: manufacturerOrgId, maxDevices: opts.maxDevices ?? 100_000, expiresInSeconds: opts.expiresInSeconds ?? 30 * 86400, ...(opts.productId ? { productId: opts.productId } : {}) }, operatorKey);
  if (r.status !== 201) throw new Error(`enrollment grant: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/** Enrollment tokens for a product, minted in batches (the API gives at most 1,000 per call). */
export async function mintTokens(api: Api, key: string, productId: string, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const n = Math.min(1000, count - out.length);
    const r = await api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count: n, expiresInSeconds: 3600, ...extra }, key);
    if (r.status !== 201) throw new Error(`tokens: ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...(r.body.tokens as string[]));
  }
  return out;
}

function repositoryRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

/** The built service's entry point (dist/), from test/support or from dist/test/support. */
export function builtServerEntry(): string {
  return path.join(repositoryRoot(), 'dist', 'apps', 'fleet-server', 'src', 'main.js');
}

/**
 * The Node options `npm start` gives the service (package.json's start script: e.g. the young
 * generation's size, which sets how often V8 collects), so that a spawned service runs as a
 * started one does.
 */
export function serviceNodeOptions(): string[] {
  const start: string = JSON.parse(fs.readFileSync(path.join(repositoryRoot(), 'package.json'), 'utf8')).scripts?.start ?? '';
  const m = /(?:^|&&\s*)node\s+((?:--[\w-]+(?:=\S+)?\s+)*)dist\/apps\/fleet-server\/src\/main\.js/.exec(start);
  if (!m) throw new Error(`package.json's start script does not run dist/apps/fleet-server/src/main.js with node: ${start}`);
  return m[1].split(/\s+/).filter(Boolean);
}

const SPAWN_TIMEOUT_MS = 180_000;

/** Spawns the built service (dist/) as a separate process, the way the README starts it (`npm start`'s Node options), and waits for its listeners. */
export async function spawnBuiltService(env: Record<string, string>): Promise<{ proc: ChildProcess; urls: Record<string, string>; output: () => string; stdout: () => string; kill: (signal?: NodeJS.Signals) => Promise<number | null> }> {
  const main = builtServerEntry();
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm test does)`);
  const proc = spawn(process.execPath, [...serviceNodeOptions(), main], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  const urls: Record<string, string> = {};
  proc.stdout!.on('data', (d) => {
    out += d;
    stdout += d;
  });
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    // Generous: a loaded, shared 2-core machine has been seen to take over a minute to boot it.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`service did not start within ${SPAWN_TIMEOUT_MS / 1000} s:\n${out}`));
    }, SPAWN_TIMEOUT_MS);
    const check = () => {
      for (const m of out.matchAll(/^fleetguard (\w+) listening (\S+)$/gm)) urls[m[1]] = m[2];
      if (urls.operator && (!env.__WAIT_FOR || urls[env.__WAIT_FOR])) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check); // the human "listening" lines are on stderr
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${out}`));
    });
  });
  return {
    proc,
    urls,
    output: () => out,
    stdout: () => stdout,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}
