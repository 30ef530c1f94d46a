/**
 * `npm run demo`: the service on the embedded defaults (PGlite under ./data, dev CA under ./certs)
 * with a simulated fleet: a manufacturer, a product with a signed firmware release and its golden
 * boot measurements, an operator, and 50 devices over mutual-TLS MQTT, a few of them tampered,
 * rolled back or weakly configured. Prints the dashboard URL, the admin key and a fleet summary,
 * then keeps the fleet answering challenges until Ctrl-C.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sampleBootEvents } from '@fleetguard/device-kit';
import { runFleet } from './fleet';
import { startServiceProcess } from './service.process';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'firmware-samples', 'samples.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('firmware-samples/ not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

async function api(base: string, key: string, method: string, p: string, body?: unknown, raw?: Buffer) {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(raw ? { 'content-type': 'application/octet-stream' } : body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: raw ? (raw as unknown as BodyInit) : body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  return { status: res.status, body: json };
}

async function main(): Promise<void> {
  const env = { ...process.env };
  const dataDir = path.resolve(env.FLEETGUARD_DATA_DIR ?? './data');
  fs.mkdirSync(dataDir, { recursive: true });
  // The demo keeps its admin key beside its data so that a second run can reuse the same tenants.
  const keyFile = path.join(dataDir, 'demo-admin-key');
  if (!env.FLEETGUARD_ADMIN_KEY) {
    if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, `fg-demo-${randomBytes(24).toString('base64url')}`, { mode: 0o600 });
    env.FLEETGUARD_ADMIN_KEY = fs.readFileSync(keyFile, 'utf8').trim();
  }
  env.FLEETGUARD_ATTEST_INTERVAL_SECONDS ??= '60';
  env.FLEETGUARD_LOG_LEVEL ??= 'warn';
  const admin = env.FLEETGUARD_ADMIN_KEY;
  // The service runs as its own process (the fleet-server app), as in production; the demo is its client.
  const service = await startServiceProcess(env);
  const base = service.urls.operator;
  const say = (line: string) => process.stdout.write(line + '\n');
  say(`fleetguard operator listening ${service.urls.operator}`);
  say(`fleetguard device listening ${service.urls.device}`);
  say(`fleetguard mqtt listening ${service.urls.mqtt}`);

  const root = repoRoot();
  const samples = JSON.parse(fs.readFileSync(path.join(root, 'firmware-samples', 'samples.json'), 'utf8'));

  // Tenants (reused on a second run).
  const orgs = (await api(base, admin, 'GET', '/api/v1/organizations')).body as Array<{ id: string; name: string; kind: string }>;
  const ensureOrg = async (name: string, kind: 'manufacturer' | 'operator') => orgs.find((o) => o.name === name) ?? (await api(base, admin, 'POST', '/api/v1/organizations', { name, kind })).body;
  const acme = await ensureOrg('Acme Controls', 'manufacturer');
  const plant = await ensureOrg('Northside Water Plant', 'operator');
  const mKey = (await api(base, admin, 'POST', '/api/v1/api-keys', { organizationId: acme.id, roles: ['manufacturer'], label: 'demo' })).body.key as string;
  const oKey = (await api(base, admin, 'POST', '/api/v1/api-keys', { organizationId: plant.id, roles: ['operator'], label: 'demo' })).body.key as string;

  const products = (await api(base, mKey, 'GET', '/api/v1/products')).body as Array<{ id: string; name: string }>;
  let product = products.find((p) => p.name === 'PLC-9000');
  if (!product) {
    product = (
      await api(base, mKey, 'POST', '/api/v1/products', {
        name: 'PLC-9000',
        componentType: 'EDR',
        declaredRequirements: ['CR 1.1', 'CR 1.2', 'CR 2.1', 'CR 3.1', 'CR 3.4', 'EDR 3.14', 'CR 4.1', 'CR 7.6'],
        targetLevels: { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 1, FR6: 1, FR7: 1 },
        minSecurityCounter: samples.productMinimumSecurityCounter,
      })
    ).body;
    await api(base, mKey, 'POST', `/api/v1/products/${product!.id}/signing-keys`, { publicKey: fs.readFileSync(path.join(root, 'firmware-samples', samples.keys['ec-p256'].public), 'utf8') });
    await api(base, mKey, 'POST', `/api/v1/products/${product!.id}/firmware`, undefined, fs.readFileSync(path.join(root, 'firmware-samples', 'good-ecdsa-p256.mcuboot.bin')));
  }
  const releases = (await api(base, mKey, 'GET', `/api/v1/products/${product!.id}/firmware`)).body as Array<{ version: string; digest: string; securityCounter: number }>;
  const release = releases[0];
  const events = sampleBootEvents();
  await api(base, mKey, 'PUT', `/api/v1/products/${product!.id}/firmware/${encodeURIComponent(release.version)}/reference-values`, { events });

  const count = Number(env.DEMO_DEVICES ?? 50);
  // The plant consents to Acme's devices joining its fleet (an enrollment grant); the tokens name it.
  const grant = (await api(base, oKey, 'POST', '/api/v1/enrollment-grants', { manufacturerOrganizationId: acme.id, productId: product!.id, maxDevices: count, expiresInSeconds: 3600 })).body as { id: string };
  const tokens = (await api(base, mKey, 'POST', `/api/v1/products/${product!.id}/enrollment-tokens`, { count, expiresInSeconds: 3600, grantId: grant.id })).body.tokens as string[];
  say(`\nenrolling ${count} simulated devices over mutual TLS...`);
  const fleet = await runFleet({
    count,
    tokens,
    mix: { good: 40, tampered: 4, rollback: 3, weak: 3 },
    operatorUrl: base,
    deviceUrl: service.urls.device,
    mqttUrl: service.urls.mqtt,
    profile: { fw: { productId: product!.id, version: release.version, digest: release.digest, securityCounter: release.securityCounter }, events },
    allowFailures: true,
  });
  await Promise.all(fleet.devices.map((d) => d.waitForResult(30_000, { since: 0 }).catch(() => undefined)));
  await new Promise((r) => setTimeout(r, 1000)); // let the scores of the last reports land

  const summary = (await api(base, oKey, 'GET', '/api/v1/fleet/summary')).body;
  say('\n=== Fleetguard demo is running ===');
  say(`dashboard:      ${base}/`);
  say(`admin API key:  ${admin}   (also in ${keyFile})`);
  say(`operator key:   ${oKey}   (Northside Water Plant: paste it into the dashboard)`);
  say(`manufacturer:   ${mKey}`);
  say(`fleet summary:  ${JSON.stringify(summary?.byStatus ?? summary?.counts ?? summary)}`);
  if (fleet.failures.length) say(`(${fleet.failures.length} device(s) failed to start: ${fleet.failures[0].error.message})`);
  say('devices keep answering challenges; press Ctrl-C to stop.');

  const stop = async () => {
    await fleet.close();
    await service.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
