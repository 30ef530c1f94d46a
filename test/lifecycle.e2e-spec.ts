import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { SimulatedDevice } from '../apps/device-sim/src';
import { EventBusService } from '@fleetguard/events/nest';
import { FleetEvent } from '@fleetguard/events';
import { sha256Hex, sampleBootEvents } from '@fleetguard/device-kit';
import { signManifest } from '@fleetguard/firmware';
import { CYCLONEDX_16_XML, ZEPHYR_SPDX_22, csafAdvisory, npmSbom } from '@fleetguard/lifecycle/testing';
import { makeTempDir, runFleetctl } from '../apps/fleetctl/src/testing/run-fleetctl';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(180_000);

const SAMPLES = path.resolve(__dirname, '../firmware-samples');
const samples = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'samples.json'), 'utf8'));
const CVE = 'CVE-2018-0001';
const LWIP = { vendor: 'lwIP', product: 'lwip', affectedVersions: ['2.1.2', '2.1.3'], fixedVersion: '2.2.0', purl: 'pkg:generic/lwip', cpeVendor: 'lwip_project' };

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the 62443-4-1 lifecycle: SBOMs, CSAF advisories, VEX, exposure from the ATTESTED release, lifecycle dates', () => {
  let s: TestService;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let fx: Awaited<ReturnType<typeof productWithRelease>>;
  let fixedProfile: { fw: { productId: string; version: string; digest: string; securityCounter: number }; events: ReturnType<typeof sampleBootEvents> };
  const devices: SimulatedDevice[] = [];
  const events: FleetEvent[] = [];
  let d1: SimulatedDevice; // attests the old (affected) release
  let d2: SimulatedDevice; // attests the fixed release
  let d3: SimulatedDevice; // attested the old release, then CLAIMS the fixed one (appraisal fails)
  let advisoryId: string;

  async function device(profile: typeof fixedProfile): Promise<SimulatedDevice> {
    const [token] = await fx.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile, reconnectPeriodMs: 0, hardening: false });
    devices.push(d);
    await d.enroll();
    return d;
  }
  const mk = () => fx.manufacturer.key;
  const exposedIds = async (key: string) => (await s.api.get('/api/v1/devices?exposed=true', key)).body.items.map((d: any) => d.id).sort();

  let npmSpdx: Buffer;

  beforeAll(async () => {
    // npm runs synchronously (seconds): before the service starts, so no keep-alive connection idles out meanwhile.
    npmSpdx = npmSbom('spdx');
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    s.app.get(EventBusService).stream(null, ['device.exposed', 'device.unsupported']).subscribe((e) => events.push(e));
    operator = await createTenant(s.api, 'operator');
    fx = await productWithRelease(s.api, { operator });
    // The fixed release: a detached-manifest image signed with the product's key, other boot measurements.
    const image = randomBytes(4096);
    const version = '9.0.0';
    const securityCounter = fx.profile.fw.securityCounter + 1;
    const digest = `sha256:${createHash('sha256').update(image).digest('hex')}`;
    const key = createPrivateKey(fs.readFileSync(path.join(SAMPLES, samples.keys['ec-p256'].private)));
    const manifest = await signManifest({ productId: fx.product.id, version, securityCounter, digest, size: image.length }, key, samples.keys['ec-p256'].keyId);
    const up = await s.api.request('POST', `/api/v1/products/${fx.product.id}/firmware`, { key: mk(), raw: image, headers: { 'content-type': 'application/octet-stream', 'x-firmware-manifest': manifest } });
    expect(up.status).toBe(201);
    const events9 = sampleBootEvents().map((e) => (e.component === 'kernel' ? { ...e, digest: sha256Hex('linux 6.6.31') } : e));
    const refs = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/${version}/reference-values`, { key: mk(), body: { events: events9 } });
    expect(refs.status).toBe(200);
    fixedProfile = { fw: { productId: fx.product.id, version, digest: up.body.digest, securityCounter }, events: events9 };

    d1 = await device(fx.profile as typeof fixedProfile);
    d2 = await device(fixedProfile);
    d3 = await device(fx.profile as typeof fixedProfile);
    for (const d of [d1, d2, d3]) await d.attestOverHttp();
    // d3 now claims the fixed release but still boots the old one: contraindicated, its attested release stays the old one.
    d3.options.profile = fixedProfile;
    await d3.attestOverHttp();
    const d3view = await s.api.get(`/api/v1/devices/${d3.deviceId}`, operator.key);
    expect(d3view.body.attestation.status).toBe('contraindicated');
    expect(d3view.body.firmware.version).toBe(fx.profile.fw.version);
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });

  it('takes SBOMs per release (CycloneDX XML, and npm sbom SPDX) and gives back the normalised components', async () => {
    const put = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/${encodeURIComponent(fx.profile.fw.version)}/sbom`, { key: mk(), raw: CYCLONEDX_16_XML, headers: { 'content-type': 'application/vnd.cyclonedx+xml' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ format: 'cyclonedx-xml', specVersion: '1.6' });
    const fixedSbom = CYCLONEDX_16_XML.replace(/2\.1\.3/g, '2.2.0');
    const put2 = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/9.0.0/sbom`, { key: mk(), raw: fixedSbom, headers: { 'content-type': 'application/octet-stream' } });
    expect(put2.status).toBe(200);
    const got = await s.api.get(`/api/v1/products/${fx.product.id}/firmware/${encodeURIComponent(fx.profile.fw.version)}/sbom`, operator.key);
    expect(got.status).toBe(200);
    expect(got.body.components[1]).toMatchObject({ name: 'lwip', version: '2.1.3', purl: 'pkg:generic/lwip@2.1.3' });

    // npm's SPDX, sent as application/json (through the JSON body parser), is read the same way.
    const spdx = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/7.7.7/sbom`, { key: mk(), raw: npmSpdx, headers: { 'content-type': 'application/json' } });
    expect(spdx.status).toBe(200);
    expect(spdx.body.components.map((c: any) => c.purl)).toEqual(['pkg:npm/fw-app@1.0.0', 'pkg:npm/dep-lib@2.3.4']);
  });

  it('refuses a bad SBOM with what is wrong, and an SBOM from an operator', async () => {
    const bad = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/1.0.0/sbom`, { key: mk(), raw: JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ name: 'x', purl: 'nope' }] }), headers: { 'content-type': 'application/vnd.cyclonedx+json' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/components\[0\].*not a package URL/);
    const unknown = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/1.0.0/sbom`, { key: mk(), raw: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(unknown.status).toBe(415);
    const op = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/firmware/1.0.0/sbom`, { key: operator.key, raw: CYCLONEDX_16_XML, headers: { 'content-type': 'application/xml' } });
    expect(op.status).toBe(403);
  });

  it('refuses invalid CSAF with the validator\'s reasons (schema and mandatory tests)', async () => {
    const noTitle = csafAdvisory({ target: LWIP });
    delete noTitle.document.title;
    const r1 = await s.api.post('/api/v1/advisories', noTitle, mk());
    expect(r1.status).toBe(400);
    expect(r1.body.message).toMatch(/csaf_2_0_strict.*title/);
    const undefinedProduct = csafAdvisory({ target: LWIP });
    undefinedProduct.vulnerabilities[0].product_status.known_affected.push('CSAFPID-9999');
    const r2 = await s.api.post('/api/v1/advisories', undefinedProduct, mk());
    expect(r2.status).toBe(400);
    expect(JSON.stringify(r2.body)).toMatch(/mandatoryTest_6_1_1/);
  });

  it('a CSAF advisory written from the spec\'s examples is matched: the devices ATTESTED on the affected release are exposed, not the one on the fixed release', async () => {
    const r = await s.api.post('/api/v1/advisories', csafAdvisory({ target: LWIP }), mk());
    expect(r.status).toBe(201);
    advisoryId = r.body.id;
    expect(r.body).toMatchObject({ trackingId: 'Example-2024-0001', maxCvss: 9.8, severity: 'critical', exposedDevices: 2 });
    expect(r.body.vulnerabilities[0].cvss).toMatchObject({ baseScore: 9.8, vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' });

    const listed = await s.api.get(`/api/v1/advisories/${advisoryId}/devices`, operator.key);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i: any) => i.deviceId).sort()).toEqual([d1.deviceId, d3.deviceId].sort());
    expect(await exposedIds(operator.key)).toEqual([d1.deviceId, d3.deviceId].sort());
    expect((await s.api.get('/api/v1/devices?exposed=false', operator.key)).body.items.map((d: any) => d.id)).toEqual([d2.deviceId]);

    const e3 = await s.api.get(`/api/v1/devices/${d3.deviceId}/exposure`, operator.key);
    expect(e3.body).toMatchObject({ exposed: true, attestedRelease: { version: fx.profile.fw.version } });
    expect(e3.body.advisories[0].findings[0]).toMatchObject({ vulnerability: CVE, component: { name: 'lwip', version: '2.1.3' }, matchedBy: 'purl' });
    const e2 = await s.api.get(`/api/v1/devices/${d2.deviceId}/exposure`, operator.key);
    expect(e2.body).toMatchObject({ exposed: false, attestedRelease: { version: '9.0.0' }, advisories: [] });

    await until('device.exposed events', async () => events.filter((e) => e.type === 'device.exposed').length >= 2);
    expect(events.filter((e) => e.type === 'device.exposed').map((e) => e.deviceId).sort()).toEqual([d1.deviceId, d3.deviceId].sort());
    // Another tenant sees nothing.
    const other = await createTenant(s.api, 'operator');
    expect((await s.api.get(`/api/v1/advisories/${advisoryId}/devices`, other.key)).status).toBe(404);
  });

  it('a device that attests the affected release after the advisory becomes exposed (recomputed on its attestation)', async () => {
    const d4 = await device(fx.profile as typeof fixedProfile);
    await d4.attestOverHttp();
    await until('d4 exposed', async () => (await exposedIds(operator.key)).includes(d4.deviceId));
    expect(events.some((e) => e.type === 'device.exposed' && e.deviceId === d4.deviceId)).toBe(true);
  });

  it('VEX: not_affected needs a justification; an OpenVEX not_affected for the component removes the exposure', async () => {
    const statement = { vulnerability: { name: CVE }, products: [{ '@id': 'pkg:generic/lwip@2.1.3' }], status: 'not_affected' };
    const doc = (st: Record<string, unknown>) => ({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/1', author: 'lwIP', timestamp: '2024-01-25T00:00:00Z', version: 1, statements: [st] });
    const bare = await s.api.post('/api/v1/vex', doc(statement), mk());
    expect(bare.status).toBe(400);
    expect(bare.body.message).toMatch(/not_affected needs a justification/);
    const ok = await s.api.post('/api/v1/vex', doc({ ...statement, justification: 'vulnerable_code_not_in_execute_path' }), mk());
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ format: 'openvex', statements: 1, advisoriesRecomputed: 1 });
    expect((await s.api.get(`/api/v1/advisories/${advisoryId}/devices`, operator.key)).body.items).toEqual([]);
    expect(await exposedIds(operator.key)).toEqual([]);
    // A later CycloneDX VEX `exploitable` for the same component brings the exposure back.
    const cdx = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      version: 1,
      components: [{ 'bom-ref': 'lwip', type: 'library', name: 'lwip', version: '2.1.3', purl: 'pkg:generic/lwip@2.1.3' }],
      vulnerabilities: [{ id: CVE, analysis: { state: 'exploitable', detail: 'reachable after all' }, affects: [{ ref: 'lwip' }] }],
    };
    const back = await s.api.post('/api/v1/vex', cdx, mk());
    expect(back.status).toBe(201);
    expect((await exposedIds(operator.key)).length).toBe(3);
  });

  it('fleetctl: sbom upload, advisory upload, vex upload, device list --exposed, devices --exposed', async () => {
    const dir = makeTempDir('fleetctl-lifecycle-');
    const run = async (key: string, args: string[]) => {
      const r = await runFleetctl([...args, '--url', s.urls.operator, '--key', key, '--json'], { cwd: dir, env: { FLEETCTL_CONFIG: path.join(dir, 'none.json') } });
      if (r.code !== 0) throw new Error(`fleetctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.json();
    };
    fs.writeFileSync(path.join(dir, 'sbom.spdx'), ZEPHYR_SPDX_22);
    expect(await run(mk(), ['sbom', 'upload', fx.product.id, '8.0.0', 'sbom.spdx'])).toMatchObject({ format: 'spdx-tag-value', specVersion: '2.2' });
    fs.writeFileSync(path.join(dir, 'advisory.json'), JSON.stringify(csafAdvisory({ target: LWIP })));
    expect(await run(mk(), ['advisory', 'upload', 'advisory.json'])).toMatchObject({ id: advisoryId, exposedDevices: 3 });
    const openvex = { '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/2', author: 'lwIP', timestamp: '2024-01-26T00:00:00Z', version: 1, statements: [{ vulnerability: { name: CVE }, products: [{ '@id': 'pkg:generic/lwip@2.1.3' }], status: 'fixed' }] };
    fs.writeFileSync(path.join(dir, 'vex.json'), JSON.stringify(openvex));
    expect(await run(mk(), ['vex', 'upload', 'vex.json'])).toMatchObject({ format: 'openvex', statements: 1 });
    expect((await run(operator.key, ['device', 'list', '--exposed'])).items).toEqual([]);
    const cdx = { bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, vulnerabilities: [{ id: CVE, analysis: { state: 'exploitable' }, affects: [{ ref: 'pkg:generic/lwip@2.1.3' }] }] };
    fs.writeFileSync(path.join(dir, 'vex2.json'), JSON.stringify(cdx));
    await run(mk(), ['vex', 'upload', 'vex2.json']);
    // The spelling, `devices --exposed`, is the same list.
    expect((await run(operator.key, ['devices', '--exposed'])).items).toHaveLength(3);
  });

  it('product lifecycle dates (OpenEoX names): passing end of security support raises device.unsupported', async () => {
    const bad = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/lifecycle`, { key: mk(), body: { endOfSales: '2030-01-01', endOfLife: '2029-01-01' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/endOfSales.*after.*endOfLife/);
    const past = new Date(Date.now() - 60_000).toISOString();
    const put = await s.api.request('PUT', `/api/v1/products/${fx.product.id}/lifecycle`, { key: mk(), body: { generalAvailability: '2024-01-01', endOfSecuritySupport: past, endOfLife: '2099-12-31' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ securitySupported: false, endOfSecuritySupport: past, endOfSales: null });
    await until('device.unsupported', async () => events.filter((e) => e.type === 'device.unsupported').length >= 4);
    expect(new Set(events.filter((e) => e.type === 'device.unsupported').map((e) => e.deviceId)).size).toBe(4);
    expect((await s.api.get(`/api/v1/devices/${d1.deviceId}/exposure`, operator.key)).body.unsupported).toBe(true);
  });

  it('the 62443 view shows the lifecycle findings on the attested release: exposed and unsupported on FR3 (EDR 3.10), in the score and the assessment export', async () => {
    const score = await s.api.get(`/api/v1/devices/${d1.deviceId}/score`, operator.key);
    expect(score.status).toBe(200);
    const findings = score.body.lifecycleFindings as any[];
    expect(findings.map((f) => f.code).sort()).toEqual(['lifecycle.exposed', 'lifecycle.unsupported']);
    expect(findings.find((f) => f.code === 'lifecycle.exposed')).toMatchObject({
      fr: 'FR3', requirement: 'EDR 3.10', severity: 'critical', reference: advisoryId,
      reason: `the attested release ${fx.profile.fw.version} is affected by advisory Example-2024-0001 (${CVE}), CVSS 9.8, with no not_affected statement`,
    });
    expect(findings.find((f) => f.code === 'lifecycle.unsupported')).toMatchObject({ fr: 'FR3', requirement: 'EDR 3.10', practice: expect.stringMatching(/SUM/) });
    expect(score.body.items.find((i: any) => i.id === 'EDR 3.10')).toMatchObject({ lifecycleFindings: ['lifecycle.exposed', 'lifecycle.unsupported'] });
    // The SBOM of the attested release is there, so no inventory finding (the SBOM-less case is in the unit test).
    expect(findings.some((f) => f.code === 'lifecycle.sbom-missing')).toBe(false);

    // d3 claims the fixed release but attests the old one: the findings follow the attested release.
    const s3 = await s.api.get(`/api/v1/devices/${d3.deviceId}/score`, operator.key);
    expect(s3.body.lifecycleFindings.map((f: any) => f.code)).toContain('lifecycle.exposed');
    // d2 attests the fixed release: not exposed, still unsupported (same product).
    const s2 = await s.api.get(`/api/v1/devices/${d2.deviceId}/score`, operator.key);
    expect(s2.body.lifecycleFindings.map((f: any) => f.code)).toEqual(['lifecycle.unsupported']);

    const csv = await fetch(`${s.urls.operator}/api/v1/devices/${d1.deviceId}/assessment?format=csv`, { headers: { authorization: `Bearer ${operator.key}` } });
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trim().split(/\r?\n/);
    expect(lines[0].split(',').at(-1)).toBe('lifecycle_findings');
    expect(lines.find((l) => l.includes(',EDR 3.10,'))).toMatch(/,lifecycle\.exposed; lifecycle\.unsupported$/);
  });

  const CHROMIUM = '/usr/bin/chromium';
  (fs.existsSync(CHROMIUM) ? it : it.skip)('the dashboard shows the exposure panel and the device page lists its findings (chromium)', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const context = await browser.newContext();
      await context.addInitScript((key) => localStorage.setItem('fleetguard.apiKey', key), operator.key);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${s.urls.operator}/`);
      await page.waitForSelector('body[data-state="ready"]');
      await page.waitForFunction(() => document.querySelector('#exposed-count')!.textContent === '3');
      const row = page.locator(`#advisories-table tr[data-advisory-id="${advisoryId}"]`);
      expect(await row.textContent()).toMatch(/Example-2024-0001.*critical.*9\.8.*3/);
      await page.waitForFunction(() => /critical 3/.test(document.querySelector('#exposure-severity')!.textContent!));
      await page.goto(`${s.urls.operator}/#/devices/${d3.deviceId}`);
      await page.waitForSelector('#device[data-loaded="true"]');
      expect(await page.textContent('#exposure-table')).toMatch(/CVE-2018-0001.*lwip 2\.1\.3.*purl/);
      // The 62443 view's lifecycle findings, on the device page's SL-C section.
      expect(await page.textContent('#lifecycle-findings tr[data-code="lifecycle.exposed"]')).toMatch(/FR3.*EDR 3\.10.*critical.*Example-2024-0001/);
      expect(await page.textContent('#lifecycle-findings tr[data-code="lifecycle.unsupported"]')).toMatch(/end of security support/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
