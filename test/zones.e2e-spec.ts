import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { DataSource } from 'typeorm';
import { HardeningService } from '@fleetguard/hardening/nest';
import { hardenedReport, withFacts } from '@fleetguard/device-kit';
import { oscalAssessmentResultsValidator } from './support/oscal-schema';
import { TestService, createProduct, createTenant, startTestService } from './support/service';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '../test-artifacts');
const SLT = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };

/** Python's csv module (Debian python3) reads the export: rows as dicts, keyed by the header. */
function pythonCsv(text: string): Array<Record<string, string>> {
  const script = 'import csv, io, json, sys\nprint(json.dumps(list(csv.DictReader(io.StringIO(sys.stdin.read(), newline="")))))';
  return JSON.parse(execFileSync('python3', ['-c', script], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
}

describe('zones of the asset owner and assessment exports', () => {
  let s: TestService;
  let ds: DataSource;
  let op: { orgId: string; key: string };
  let other: { orgId: string; key: string };
  let zoneId: string;
  const ids = ['zone-dev-1', 'zone-dev-2', 'zone-dev-3'];

  beforeAll(async () => {
    s = await startTestService();
    ds = s.app.get(DataSource);
    const mfr = await createTenant(s.api, 'manufacturer');
    op = await createTenant(s.api, 'operator');
    other = await createTenant(s.api, 'operator');
    const product = await createProduct(s.api, mfr.key, { componentType: 'EDR', declaredRequirements: [], targetLevels: { FR1: 3, FR2: 3, FR3: 3, FR4: 3, FR5: 3, FR6: 3, FR7: 3 } });
    // Three devices of the operator, each attested (release 2.4.1), with reports as the service receives them.
    const reported = new Date().toISOString();
    const reports = [
      { ...hardenedReport(), reportedAt: reported },
      withFacts({ ...hardenedReport(), reportedAt: reported }, { 'accounts.mfa': undefined }), // CR 1.1 RE(2) (SL 3) missing: FR1 = 2
      withFacts({ ...hardenedReport(), reportedAt: reported }, { 'secureBoot.verified': undefined }), // EDR 3.14 RE(1) (SL 2) missing: FR3 = 1
    ];
    const hardening = s.app.get(HardeningService);
    for (const [i, id] of [...ids, 'zone-dev-other'].entries()) {
      await ds.query(
        `INSERT INTO devices (id, product_id, manufacturer_org_id, operator_org_id, key_type, public_key_spki, attestation_status, attestation_at, affirmed_at, firmware_version)
         VALUES ($1, $2, $3, $4, 'P-256', '\\x00'::bytea, 'affirming', now(), now(), '2.4.1')`,
        [id, product.id, mfr.orgId, i < 3 ? op.orgId : other.orgId],
      );
      if (i < 3) await hardening.submitReport(id, reports[i], 'http');
    }
  });
  afterAll(async () => {
    await s?.stop();
  });

  const api = (method: string, p: string, body?: unknown, key = op.key) => s.api.request(method, `/api/v1${p}`, { key, body });

  it('an operator creates a zone with its SL-T; other tenants do not see it', async () => {
    const r = await api('POST', '/zones', { name: 'Cell 7', targetLevels: SLT });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Cell 7', targetLevels: SLT, devices: 0 });
    zoneId = r.body.id;
    expect((await api('POST', '/zones', { name: 'Cell 7', targetLevels: SLT })).status).toBe(409);
    expect((await api('POST', '/zones', { name: 'x', targetLevels: { ...SLT, FR7: 5 } })).status).toBe(400);
    expect((await api('GET', '/zones')).body.map((z: any) => z.id)).toEqual([zoneId]);
    expect((await api('GET', '/zones', undefined, other.key)).body).toEqual([]);
    expect((await api('GET', `/zones/${zoneId}`, undefined, other.key)).status).toBe(404);
    expect((await api('PUT', `/zones/${zoneId}/devices`, { add: ['zone-dev-other'] }, other.key)).status).toBe(404);
  });

  it('assigns the operator’s devices only, one zone per device', async () => {
    expect((await api('PUT', `/zones/${zoneId}/devices`, { add: ['zone-dev-other'] })).status).toBe(404);
    const r = await api('PUT', `/zones/${zoneId}/devices`, { add: ids });
    expect(r).toMatchObject({ status: 200, body: { devices: 3 } });
    const second = (await api('POST', '/zones', { name: 'Cell 8', targetLevels: SLT })).body.id;
    expect((await api('PUT', `/zones/${second}/devices`, { add: [ids[0]] })).status).toBe(409);
    expect((await api('PUT', `/zones/${zoneId}/devices`, { add: 'zone-dev-1' })).status).toBe(400);
  });

  it('SL-A per FR is the lowest of its devices’, with the devices that hold it down and the gaps against SL-T', async () => {
    const z = (await api('GET', `/zones/${zoneId}`)).body;
    expect(z.assessment.slA).toEqual({ FR1: 2, FR2: 4, FR3: 1, FR4: 4, FR5: 4, FR6: 4, FR7: 4 });
    expect(z.assessment.perFr.FR1.heldDownBy).toEqual(['zone-dev-2']);
    expect(z.assessment.perFr.FR3.heldDownBy).toEqual(['zone-dev-3']);
    expect(z.assessment.belowTarget).toEqual(['FR3']);
    expect(z.assessment.perFr.FR3.gaps).toEqual([{ requirement: 'EDR 3.14 RE(1)', sl: 2, devices: ['zone-dev-3'] }]);
    expect(z.assessment.perFr.FR1.gaps).toEqual([]); // CR 1.1 RE(2) is SL 3, above the zone's SL-T
  });

  it('a compensating countermeasure raises its requirement only, and is listed apart', async () => {
    expect((await api('POST', `/zones/${zoneId}/countermeasures`, { requirement: 'CR 99.1', description: 'x' })).status).toBe(400);
    expect((await api('POST', `/zones/${zoneId}/countermeasures`, { requirement: 'EDR 3.14 RE(1)', description: '' })).status).toBe(400);
    const cm = await api('POST', `/zones/${zoneId}/countermeasures`, {
      requirement: 'EDR 3.14 RE(1)',
      description: 'Cell 7 is physically locked; boot media are sealed and inspected weekly (procedure OPS-12)',
    });
    expect(cm.status).toBe(201);
    const z = (await api('GET', `/zones/${zoneId}`)).body;
    expect(z.assessment.slA).toEqual({ FR1: 2, FR2: 4, FR3: 4, FR4: 4, FR5: 4, FR6: 4, FR7: 4 });
    expect(z.assessment.perFr.FR3).toMatchObject({ slA: 4, slAWithoutCountermeasures: 1, gaps: [] });
    expect(z.assessment.perFr.FR1).toMatchObject({ slA: 2, slAWithoutCountermeasures: 2 });
    expect(z.assessment.countermeasures).toEqual([expect.objectContaining({ id: cm.body.id, requirement: 'EDR 3.14 RE(1)', raised: [{ fr: 'FR3', devices: ['zone-dev-3'] }] })]);
    expect(z.assessment.belowTarget).toEqual([]);
    // The device's own SL-C is unchanged: the countermeasure belongs to the zone.
    expect((await api('GET', '/devices/zone-dev-3/score')).body.evidenced.FR3).toBe(1);
  });

  it('the JSON and CSV exports agree with the API; Python’s csv module reads the CSV', async () => {
    const z = (await api('GET', `/zones/${zoneId}`)).body;
    const json = await api('GET', `/zones/${zoneId}/assessment?format=json`);
    expect(json.status).toBe(200);
    expect(json.body.assessment).toEqual(z.assessment);
    const perDevice = json.body.rows.filter((r: any) => r.deviceId === 'zone-dev-1').length;
    expect(perDevice).toBeGreaterThan(80);
    expect(json.body.rows).toHaveLength(3 * perDevice);

    const csv = await fetch(`${s.urls.operator}/api/v1/zones/${zoneId}/assessment?format=csv`, { headers: { authorization: `Bearer ${op.key}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = pythonCsv(await csv.text());
    expect(rows).toHaveLength(json.body.rows.length);
    expect(Object.keys(rows[0])).toEqual([
      'device_id', 'requirement', 'fr', 'sl', 'applicable', 'verdict', 'grade', 'countermeasure_id',
      'report_id', 'attestation_result_id', 'firmware_release', 'rule_set_version', 'catalog_version', 'lifecycle_findings',
    ]);
    rows.forEach((r, i) => {
      const j = json.body.rows[i];
      expect(r).toEqual({
        device_id: j.deviceId, requirement: j.requirement, fr: j.fr, sl: String(j.sl), applicable: String(j.applicable), verdict: j.verdict,
        grade: j.grade ?? '', countermeasure_id: j.countermeasure ?? '', report_id: j.reportId ?? '', attestation_result_id: j.attestationResultId ?? '',
        firmware_release: j.firmwareRelease ?? '', rule_set_version: j.rulesVersion, catalog_version: j.catalogVersion, lifecycle_findings: j.lifecycleFindings ?? '',
      });
    });
    const d3 = rows.find((r) => r.device_id === 'zone-dev-3' && r.requirement === 'EDR 3.14 RE(1)')!;
    expect(d3).toMatchObject({ verdict: 'missing', countermeasure_id: z.assessment.countermeasures[0].id, firmware_release: '2.4.1', rule_set_version: 'fact-rules.v2' });
    expect(rows.find((r) => r.device_id === 'zone-dev-1' && r.requirement === 'CR 3.4')).toMatchObject({ verdict: 'evidenced', grade: 'attested' });
    expect(rows.find((r) => r.device_id === 'zone-dev-1' && r.requirement === 'CR 1.1')).toMatchObject({ verdict: 'evidenced', grade: 'reported' });
    expect(rows.every((r) => r.report_id.length === 36)).toBe(true);
  });

  it('the HTML report is self-contained and renders in headless chromium (screenshot artifact)', async () => {
    const r = await fetch(`${s.urls.operator}/api/v1/zones/${zoneId}/assessment?format=html`, { headers: { authorization: `Bearer ${op.key}` } });
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (q) => requests.push(q.url()));
      await page.setContent(html, { waitUntil: 'load' });
      expect(requests).toEqual([]); // nothing fetched: self-contained
      expect(await page.title()).toBe('Zone Cell 7: IEC 62443 assessment');
      const fr3 = await page.locator('tr', { has: page.locator('th', { hasText: /^FR3$/ }) }).first().innerText();
      expect(fr3).toMatch(/FR3\s+4\s+1\s+2/);
      expect(await page.locator('text=Cell 7 is physically locked').count()).toBe(1);
      await page.screenshot({ path: path.join(ARTIFACTS, 'zone-assessment.png'), fullPage: true });
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    } finally {
      await browser.close();
    }
    expect(fs.statSync(path.join(ARTIFACTS, 'zone-assessment.png')).size).toBeGreaterThan(1000);
  });

  it('the OSCAL export validates against NIST’s assessment-results schema and agrees with the API', async () => {
    const z = (await api('GET', `/zones/${zoneId}`)).body;
    const r = await fetch(`${s.urls.operator}/api/v1/zones/${zoneId}/assessment?format=oscal`, { headers: { authorization: `Bearer ${op.key}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toMatch(/\.oscal\.json"$/);
    const doc = await r.json();
    const validate = oscalAssessmentResultsValidator();
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const [result] = doc['assessment-results'].results;
    expect(result['local-definitions']['inventory-items'].map((i: any) => i.props[0].value).sort()).toEqual(ids);
    expect(result.observations).toHaveLength(3);
    const fr = (k: string, name: string) => result.props.find((p: any) => p.name === name && p.class === k.toLowerCase())?.value;
    for (const k of ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7']) {
      expect(fr(k, 'sl-a')).toBe(String(z.assessment.slA[k]));
      expect(fr(k, 'sl-t')).toBe(String(z.assessment.slT[k]));
    }
    // EDR 3.14 RE(1) is missing on zone-dev-3, covered by the zone's countermeasure: satisfied, linked to it.
    const f = result.findings.find((x: any) => x.title === 'EDR 3.14 RE(1)');
    expect(f.target.status.state).toBe('satisfied');
    const cm = doc['assessment-results']['back-matter'].resources.find((x: any) => x.uuid === z.assessment.countermeasures[0].id);
    expect(cm.description).toBe(z.assessment.countermeasures[0].description);
    expect(f.links[0].href).toBe(`#${cm.uuid}`);
    // CR 1.1 RE(2) (SL 3) is missing on zone-dev-2: not satisfied, related to that device's observation.
    const g = result.findings.find((x: any) => x.title === 'CR 1.1 RE(2)');
    expect(g.target.status.state).toBe('not-satisfied');
    const obs = result.observations.find((o: any) => o.uuid === g['related-observations'][0]['observation-uuid']);
    const inv = result['local-definitions']['inventory-items'].find((i: any) => i.uuid === obs.subjects[0]['subject-uuid']);
    expect(inv.props[0].value).toBe('zone-dev-2');
    // The evidence is the stored report (these devices' attestation status is set directly, with no stored appraisal to name).
    const reportId = (await api('GET', `/zones/${zoneId}/assessment`)).body.rows.find((x: any) => x.deviceId === 'zone-dev-2').reportId;
    expect(obs['relevant-evidence'].map((e: any) => e.href)).toEqual([`urn:fleetguard:hardening-report:${reportId}`]);
    const dev = await fetch(`${s.urls.operator}/api/v1/devices/zone-dev-1/assessment?format=oscal`, { headers: { authorization: `Bearer ${op.key}` } });
    expect(validate(await dev.json())).toBe(true);
  });

  it('a device assessment: one row per requirement, against its product’s claimed SL-C; 404 for another tenant; 400 for an unknown format', async () => {
    const j = await api('GET', '/devices/zone-dev-2/assessment');
    expect(j.status).toBe(200);
    expect(j.body.assessment).toMatchObject({ devices: 1, slA: { FR1: 2 }, slT: { FR1: 3 }, belowTarget: ['FR1'] });
    expect(new Set(j.body.rows.map((r: any) => r.deviceId))).toEqual(new Set(['zone-dev-2']));
    expect((await api('GET', '/devices/zone-dev-2/assessment', undefined, other.key)).status).toBe(404);
    expect((await api('GET', '/devices/zone-dev-2/assessment?format=xml')).status).toBe(400);
    expect((await api('GET', `/zones/${zoneId}/assessment?format=xml`)).status).toBe(400);
    expect((await api('GET', `/zones/${zoneId}/assessment`, undefined, other.key)).status).toBe(404);
  });
});
