import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt, { MqttClient } from 'mqtt';
import { buildEvidence } from '@fleetguard/device-kit';
import { ADMIN_KEY, Api, ephemeralEnv } from '../../support/service';
import { TEST_PG_URL, createPostgresDatabase } from '../../support/test-database';
import { productWithRelease } from '../../support/fleet-fixture';
import { Workdir, curl, opensslCsr } from '../../support/openssl';

export interface Device {
  deviceId: string;
  tls: { key: string; cert: string; ca: string };
}

/** Environment of a service under a fault test: its own data and certs, ephemeral ports, quiet logs. */
export function faultEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...ephemeralEnv(dir),
    FLEETGUARD_ADMIN_KEY: ADMIN_KEY,
    FLEETGUARD_CA_PASSPHRASE: 'fault-test-passphrase',
    FLEETGUARD_LOG_LEVEL: 'error',
    FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600',
    FLEETGUARD_DEVICE_RATE_PER_MINUTE: '100000',
    // Long enough that evidence re-sent after many refusals on a slow, shared machine was still
    // sent in time: an "expired" verdict then can only be the service's mistake.
    FLEETGUARD_NONCE_TTL_SECONDS: '1800',
    ...extra,
  };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A fault test file's scratch space, removed after the file: a temp dir, an openssl workdir, and
 * `database()`: a fresh PostgreSQL database on the PostgreSQL pass (its DATABASE_URL, to spread
 * into faultEnv), nothing on the PGlite pass.
 */
export function faultWorkspace(prefix: string): { dir: string; w: Workdir; database(): Promise<Record<string, string>> } {
  const dir = tempDir(prefix);
  const w = new Workdir();
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
    fs.rmSync(dir, { recursive: true, force: true });
    w.cleanup();
  });
  return {
    dir,
    w,
    async database(): Promise<Record<string, string>> {
      if (!TEST_PG_URL) return {};
      const pg = await createPostgresDatabase(TEST_PG_URL);
      drops.push(pg.drop);
      return { DATABASE_URL: pg.url };
    },
  };
}

/** A product with its release and `count` devices enrolled over EST-like HTTP with openssl keys. */
export async function enrollFleet(urls: Record<string, string>, w: Workdir, count: number) {
  const api = new Api(urls.operator);
  const fixture = await productWithRelease(api);
  const ca = (await api.get('/pki/ca')).body as string;
  const cafile = w.write('chain.pem', ca);
  const tokens = await fixture.tokens(count);
  const devices: Device[] = [];
  for (const [i, token] of tokens.entries()) {
    const { key, csrPem } = opensslCsr(w, `fault-${i}`, 'P-256');
    const enrolled = await curl(['--cacert', cafile, '-H', 'content-type: application/json', '--data-binary', `@${w.write(`e${i}.json`, JSON.stringify({ token, csr: csrPem }))}`, `${urls.device}/enroll`]);
    const { deviceId, certificate } = JSON.parse(enrolled.stdout);
    devices.push({ deviceId, tls: { key: fs.readFileSync(key, 'utf8'), cert: certificate, ca } });
  }
  return { fixture, devices };
}

export function postJson(url: string, tls: Device['tls'], body: unknown, timeoutMs = 5000): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(url, { method: 'POST', ...tls, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Devices sending good evidence as fast as they can: challenge over the device HTTP API, evidence
 * over MQTT QoS 1. A message counts as acknowledged only once its PUBACK arrived. Clients
 * reconnect by themselves (as real devices do); `urls()` is read on each attempt so a restarted
 * service (new ports) is followed.
 */
export class EvidenceLoad {
  readonly acked: string[] = [];
  readonly counts = { challengesRefused: 0, publishFailed: 0 };
  private running = true;
  private readonly clients = new Map<string, MqttClient>();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly urls: () => Record<string, string>,
    private readonly devices: Device[],
    private readonly profile: { fw: any; events: any },
    private readonly perDevice = 3,
  ) {}

  start(): void {
    for (const d of this.devices) for (let i = 0; i < this.perDevice; i++) this.loops.push(this.loop(d));
  }

  private client(d: Device): MqttClient {
    let c = this.clients.get(d.deviceId);
    if (!c) {
      c = mqtt.connect(this.urls().mqtt, { ...d.tls, clientId: d.deviceId, reconnectPeriod: 500, connectTimeout: 5000, protocolVersion: 4, rejectUnauthorized: true });
      c.on('error', () => undefined);
      this.clients.set(d.deviceId, c);
    }
    return c;
  }

  private async loop(d: Device): Promise<void> {
    while (this.running) {
      try {
        const c = await postJson(`${this.urls().device}/attestation/challenge`, d.tls, {});
        if (c.status !== 200) {
          this.counts.challengesRefused++;
          await sleep(200);
          continue;
        }
        const evidence = await buildEvidence({ deviceKey: d.tls.key, deviceId: d.deviceId, nonce: c.body.nonce, fw: this.profile.fw, events: this.profile.events });
        const client = this.client(d);
        // mqtt.js keeps a publish queued while offline: bound the wait; an unacknowledged message does not count.
        await Promise.race([client.publishAsync(`fleet/v1/devices/${d.deviceId}/evidence`, JSON.stringify({ evidence }), { qos: 1 }), sleep(5000).then(() => Promise.reject(new Error('no PUBACK')))]);
        this.acked.push(sha256(evidence));
      } catch {
        this.counts.publishFailed++;
        await sleep(100);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients.values()) c.end(true);
    this.clients.clear();
  }

  /** Drops the MQTT clients (after a restart, so they reconnect to the new port). */
  reconnectAll(): void {
    for (const c of this.clients.values()) c.end(true);
    this.clients.clear();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every stored result of these devices, by evidence hash: [status, reasons] per result. */
export async function resultsByEvidence(operatorUrl: string, key: string, deviceIds: string[]): Promise<Map<string, Array<{ status: string; reasons: string[] }>>> {
  const api = new Api(operatorUrl);
  const out = new Map<string, Array<{ status: string; reasons: string[] }>>();
  for (const id of deviceIds) {
    let before: string | undefined;
    for (;;) {
      const page = await api.get(`/api/v1/devices/${id}/attestations?limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`, key);
      if (page.status !== 200) throw new Error(`attestations of ${id}: ${page.status} ${JSON.stringify(page.body)}`);
      for (const item of page.body.items) out.set(item.evidenceSha256, [...(out.get(item.evidenceSha256) ?? []), { status: item.status, reasons: item.reasons }]);
      if (page.body.items.length < 200) break;
      before = page.body.next;
    }
  }
  return out;
}

/**
 * Waits (up to `withinMs`) until every acknowledged message has a result, then checks the
 * invariants: exactly one result each, all affirming (good evidence is never judged replayed or
 * expired). Returns how long recovery took.
 */
export async function expectExactlyOneGoodResult(operatorUrl: string, key: string, deviceIds: string[], acked: string[], withinMs: number): Promise<number> {
  const started = Date.now();
  let results = new Map<string, Array<{ status: string; reasons: string[] }>>();
  while (Date.now() - started < withinMs) {
    results = await resultsByEvidence(operatorUrl, key, deviceIds).catch(() => results);
    if (acked.every((h) => results.has(h))) break;
    await sleep(500);
  }
  const elapsed = Date.now() - started;
  const missing = acked.filter((h) => !results.has(h)).length;
  const twice = acked.filter((h) => (results.get(h)?.length ?? 0) > 1).length;
  const notAffirming = [...results.values()].flat().filter((r) => r.status !== 'affirming');
  expect({ acknowledged: acked.length, missing, twice, notAffirming: notAffirming.map((r) => r.reasons.join('; ')) }).toEqual({ acknowledged: acked.length, missing: 0, twice: 0, notAffirming: [] });
  return elapsed;
}

/** Resident set size of a process, MiB (Linux). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
