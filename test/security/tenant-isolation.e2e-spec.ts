import { randomUUID } from 'node:crypto';
import { CYCLONEDX_16_XML, csafAdvisory } from '@fleetguard/lifecycle/testing';
import { createCsrPem, generateDeviceKey } from '../../apps/device-sim/src/device-key.generator';
import { SimulatedDevice } from '../../apps/device-sim/src';
import { productWithRelease } from '../support/fleet-fixture';
import { TestService, createTenant, grantEnrollment, startTestService } from '../support/service';
import { postDevice } from '../support/device-http';

jest.setTimeout(300_000);

const SLT = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };

/**
 * The tenant-isolation sweep of issue 11: every route of the OpenAPI document that takes an id is
 * called with tenant A's real resources by tenant B's keys of each role. The answer must be the
 * one a resource that does not exist gets (same status, same code: 404, or the role's 403 that
 * every id gets), never a 2xx, never a 5xx. A's own keys read each of those resources (so the
 * ids are real). A route with a path parameter the sweep does not know fails the test: a new
 * route has to be added here.
 */
describe('security: tenant isolation over every route of the OpenAPI document', () => {
  let s: TestService;
  const a: Record<string, string> = {};
  const bKeys: Record<string, string> = {};
  const aKeys: Record<string, string> = {};
  let sim: SimulatedDevice | undefined;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
    const ca = (await s.api.get('/pki/ca')).body;
    // Tenant A: an operator (and its auditor) with a manufacturer's product, release, device, zone, webhook, grant, advisory.
    const opA = await createTenant(s.api, 'operator');
    const fx = await productWithRelease(s.api, { operator: opA });
    aKeys.manufacturer = fx.manufacturer.key;
    aKeys.operator = opA.key;
    const audA = await s.api.post('/api/v1/api-keys', { organizationId: opA.orgId, roles: ['auditor'] }, (await import('../support/service')).ADMIN_KEY);
    aKeys.auditor = audA.body.key;
    a.product = fx.product.id;
    a.version = fx.profile.fw.version;
    a.signingKey = (await s.api.get(`/api/v1/products/${a.product}/signing-keys`, fx.manufacturer.key)).body[0].keyId;
    const base = `/api/v1/products/${a.product}`;
    expect((await s.api.request('PUT', `${base}/measured-boot-policy`, { key: fx.manufacturer.key, body: { secureBoot: 'required' } })).status).toBe(200);
    const sbom = await s.api.request('PUT', `${base}/firmware/${encodeURIComponent(a.version)}/sbom`, { key: fx.manufacturer.key, raw: CYCLONEDX_16_XML, headers: { 'content-type': 'application/vnd.cyclonedx+xml' } });
    expect(sbom.status).toBeLessThan(300);
    const [token] = await fx.tokens(1);
    const enrolled = await postDevice(`${s.urls.device}/enroll`, { token, csr: await createCsrPem(await generateDeviceKey('P-256')) }, ca);
    expect(enrolled.status).toBe(201);
    a.device = enrolled.body.deviceId;
    const zone = await s.api.post('/api/v1/zones', { name: 'Cell A', targetLevels: SLT }, opA.key);
    expect(zone.status).toBe(201);
    a.zone = zone.body.id;
    const hook = await s.api.post('/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', secret: 'webhook-secret-0123456789', events: ['attestation.failed'] }, opA.key);
    expect(hook.status).toBe(201);
    a.webhook = hook.body.id;
    a.apiKey = audA.body.id;
    a.grant = await grantEnrollment(s.api, opA.key, fx.manufacturer.orgId, { maxDevices: 3 });
    // An attestation of A's (a tampered device: contraindicated, so A's hook gets a delivery).
    const [simToken] = await fx.tokens(1);
    sim = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token: simToken, profile: fx.profile, behaviour: 'tampered-component', reconnectPeriodMs: 0, hardening: false });
    await sim.enroll();
    await sim.attestOverHttp();
    a.device = sim.deviceId; // A's device for every route: the one with a result
    a.result = (await s.api.get(`/api/v1/devices/${sim.deviceId}/attestations`, opA.key)).body.items[0].id;
    for (let i = 0; i < 100 && !a.delivery; i++) {
      a.delivery = (await s.api.get(`/api/v1/webhooks/${a.webhook}/deliveries`, opA.key)).body[0]?.id;
      if (!a.delivery) await new Promise((r) => setTimeout(r, 100));
    }
    expect(a.result).toBeTruthy();
    expect(a.delivery).toBeTruthy();
    const adv = await s.api.post('/api/v1/advisories', { ...csafAdvisory({ trackingId: `A-${randomUUID()}` }) }, fx.manufacturer.key);
    expect(adv.status).toBe(201);
    a.advisory = adv.body.id;
    // Tenant B: a manufacturer, an operator, and auditors of each kind, none related to A.
    bKeys.manufacturer = (await createTenant(s.api, 'manufacturer')).key;
    bKeys.operator = (await createTenant(s.api, 'operator')).key;
    bKeys['operator auditor'] = (await createTenant(s.api, 'operator', ['auditor'])).key;
    bKeys['manufacturer auditor'] = (await createTenant(s.api, 'manufacturer', ['auditor'])).key;
  });
  afterAll(async () => {
    await sim?.close();
    await s?.stop();
  });

  /** Tenant A's value for each path parameter, by the path it is in; `missing` gives a well-formed id of nothing. */
  function fill(template: string, missing: boolean): string | undefined {
    let unknown = false;
    const out = template.replace(/\/([^/{]+)\/\{([^}]+)\}/g, (_m, segment: string, name: string) => {
      const v = ((): string | undefined => {
        if (name === 'version') return missing ? '9.9.9+missing' : a.version;
        if (name === 'keyId') return missing ? 'ab'.repeat(32) : a.signingKey;
        if (name === 'grantId') return missing ? randomUUID() : a.grant;
        if (name === 'deliveryId') return missing ? randomUUID() : a.delivery;
        // A result is addressed under its own device: the attested one.
        if (name === 'resultId') return missing ? randomUUID() : a.result;
        const by: Record<string, string> = { products: a.product, devices: a.device, zones: a.zone, webhooks: a.webhook, 'api-keys': a.apiKey, advisories: a.advisory, firmware: a.version };
        if (name === 'id' && by[segment]) return missing ? randomUUID() : by[segment];
        return undefined;
      })();
      if (v === undefined) unknown = true;
      return `/${segment}/${encodeURIComponent(v ?? '')}`;
    });
    return unknown ? undefined : out;
  }

  it("tenant B's keys get what a missing resource gets for each of A's resources, on every route", async () => {
    const doc = (await s.api.get('/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const failures: string[] = [];
    const unreadable: string[] = [];
    let checked = 0;
    for (const [template, ops] of Object.entries(doc.paths)) {
      if (!template.startsWith('/api/') || !template.includes('{')) continue;
      for (const method of Object.keys(ops).map((m) => m.toUpperCase())) {
        const pathA = fill(template, false);
        const pathMissing = fill(template, true);
        if (!pathA || !pathMissing) {
          failures.push(`${method} ${template}: a path parameter the sweep does not know (add it to fill())`);
          continue;
        }
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        for (const [role, key] of Object.entries(bKeys)) {
          const missing = await s.api.request(method, pathMissing, { key, body });
          const theirs = await s.api.request(method, pathA, { key, body });
          checked++;
          const what = `${method} ${template} as B's ${role}: A's resource ${theirs.status} ${theirs.body?.code ?? ''}, a missing one ${missing.status} ${missing.body?.code ?? ''}`;
          if (theirs.status >= 500) failures.push(`${what} (5xx)`);
          else if (theirs.status < 400) failures.push(`${what} (A's resource answered)`);
          else if (theirs.status !== missing.status || theirs.body?.code !== missing.body?.code) failures.push(`${what} (existence leaks)`);
          else if (method === 'GET' && theirs.status !== 404 && theirs.status !== 403) failures.push(`${what} (a GET should be 404 or the role's 403)`);
        }
        if (method === 'GET') {
          const own = await Promise.all(Object.values(aKeys).map((key) => s.api.request('GET', pathA, { key })));
          // A non-Linux result has no boot log to show: its own 404 code (not the missing result's) shows the ids were A's.
          const readable = (r: { status: number; body?: { code?: string } }) => r.status === 200 || (template.endsWith('/linux-evidence') && r.body?.code === 'attestation.no-linux-evidence');
          if (!own.some(readable)) unreadable.push(`${method} ${template}: ${own.map((r) => r.status).join('/')}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    // A's own keys read every one of those resources: the sweep used real ids.
    expect(unreadable).toEqual([]);
  });
});
