import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Api } from './api';

/**
 * Several instances of the service on one machine: the pieces the three-instance e2e test
 * (test/scale) and the scale bench (bench/scale.ts) share. Debian's HAProxy in front (operator
 * API in HTTP mode, device HTTPS and MQTT passed through as TCP, as docker-compose.yml runs
 * them), Redis on 127.0.0.1:6379 (a database number of its own per run), free loopback ports.
 * The instances themselves are spawnBuiltService (./service) processes.
 */
export const REDIS = { host: '127.0.0.1', port: 6379 };
export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => fs.existsSync(p));

function redisCli(args: string[]): string | undefined {
  const r = spawnSync('redis-cli', ['-h', REDIS.host, '-p', String(REDIS.port), ...args], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout?.trim() : undefined;
}

export function redisReachable(): boolean {
  return redisCli(['ping']) === 'PONG';
}

/**
 * A Redis database number (1..15) for one run, one that holds no keys when it is picked, emptied
 * first; give it back with `release`. Keys are scoped by the number; pub/sub channels are not
 * (Redis shares them across database numbers), so parallel runs see each other's cache
 * invalidations for devices they do not have, which they ignore.
 */
export function claimRedisDb(): { db: number; url: string; release: () => void } {
  const order = Array.from({ length: 15 }, (_, i) => 1 + i).sort(() => Math.random() - 0.5);
  const db = order.find((n) => redisCli(['-n', String(n), 'dbsize']) === '0') ?? order[0];
  const flush = () => void redisCli(['-n', String(db), 'flushdb']);
  flush();
  return { db, url: `redis://${REDIS.host}:${REDIS.port}/${db}`, release: flush };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const portOf = (url: string) => Number(new URL(url).port);

/** Polls `f` every 200 ms until it gives something truthy; throws after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined | null | false> | T | undefined | null | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export type FrontKind = 'operator' | 'device' | 'mqtt';
export type FrontPorts = Record<FrontKind, number>;

/** Free ports for HAProxy's three fronts (known before the instances start: FLEETGUARD_PUBLIC_URL names the operator front). */
export async function frontPorts(): Promise<FrontPorts> {
  return { operator: await freePort(), device: await freePort(), mqtt: await freePort() };
}

export interface RunningHaproxy {
  front: FrontPorts;
  urls: { operator: string; device: string; mqtt: string };
  proc: ChildProcess;
  pid: number;
  /** The last 4,000 characters HAProxy wrote on stderr. */
  said(): string;
  stop(): void;
}

/** HAProxy's configuration for `instances` (each a set of listener URLs, as spawnBuiltService reports them). */
export function haproxyConfig(front: FrontPorts, instances: Array<Record<string, string>>, maxconn = 2000): string {
  const backends = (kind: FrontKind) => instances.map((s, i) => `    server i${i} 127.0.0.1:${portOf(s[kind])} check inter 1s fall 2 rise 1`).join('\n');
  return `global
  maxconn ${maxconn}
defaults
  mode tcp
  retries 3
  option redispatch
  timeout connect 2s
  timeout check 10s
  timeout client 120s
  timeout server 120s
frontend operator
  mode http
  bind 127.0.0.1:${front.operator}
  default_backend operator
backend operator
  mode http
  balance roundrobin
  option httpchk GET /health/ready
${backends('operator')}
frontend device
  bind 127.0.0.1:${front.device}
  default_backend device
backend device
  balance roundrobin
${backends('device')}
frontend mqtt
  bind 127.0.0.1:${front.mqtt}
  default_backend mqtt
backend mqtt
  balance leastconn
${backends('mqtt')}
`;
}

/**
 * Starts HAProxy (foreground, `-db`) in front of `instances` with its configuration in `dir`, and
 * waits until the operator front answers /health/ready (its health checks have found a backend).
 */
export async function startHaproxy(opts: { dir: string; front: FrontPorts; instances: Array<Record<string, string>>; maxconn?: number; readyTimeoutMs?: number }): Promise<RunningHaproxy> {
  if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const file = path.join(opts.dir, 'haproxy.cfg');
  fs.writeFileSync(file, haproxyConfig(opts.front, opts.instances, opts.maxconn));
  const proc = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Read (so a full pipe never blocks it) and kept for the failure message.
  let said = '';
  proc.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-4000)));
  const stop = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  const urls = { operator: `http://127.0.0.1:${opts.front.operator}`, device: `https://127.0.0.1:${opts.front.device}`, mqtt: `mqtts://127.0.0.1:${opts.front.mqtt}` };
  const lb = new Api(urls.operator);
  try {
    await until('HAProxy in front of the instances', opts.readyTimeoutMs ?? 120_000, async () => (await lb.get('/health/ready').catch(() => ({ status: 0 }))).status === 200);
  } catch (e) {
    stop();
    throw new Error(`${(e as Error).message}; HAProxy said: ${said || '(nothing)'}`);
  }
  return { front: opts.front, urls, proc, pid: proc.pid!, said: () => said, stop };
}
