import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { DataSource } from 'typeorm';
import { createHash } from 'node:crypto';
import { FRS, INTEGRITY_STATUSES } from '@fleetguard/common';
import { realEventLog, sampleBootEvents } from '@fleetguard/device-kit';
import { SimulatedDevice } from '../apps/device-sim/src';
import { TestService, createProduct, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

/** Debian's chromium, driven by playwright-core (ENVIRONMENT.md); never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.resolve(__dirname, '../test-artifacts');

type Behaviour = ConstructorParameters<typeof SimulatedDevice>[0]['behaviour'];
type Fixture = Awaited<ReturnType<typeof productWithRelease>>;

const suite = HAVE_CHROMIUM ? describe : describe.skip;
if (!HAVE_CHROMIUM) {
  console.warn(`dashboard e2e skipped: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);
}

/** Polls until check() gives a value (not undefined), or fails with what it saw last. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite(`dashboard in chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is absent)`}`, () => {
  let s: TestService;
  let ds: DataSource;
  let browser: Browser;
  /** The operator of a demo-like fleet of simulated devices: two products, enrolled and attested through the real service. */
  let operator: { orgId: string; key: string };
  /** The operator of 60 devices seeded by SQL, for the volume of the table's pages. */
  let bulk: { orgId: string; key: string };
  let plc: Fixture;
  let gateway: Fixture;
  let bulkProducts: { id: string; name: string }[];
  const devices: SimulatedDevice[] = [];
  const fleet = { good: [] as string[], tampered: [] as string[], weak: [] as string[] };
  const pageErrors: string[] = [];
  let seq = 0;

  async function insertDevice(productId: string, manufacturerId: string, operatorId: string, i: number) {
    const id = `dash-${String(++seq).padStart(4, '0')}`;
    const ago = (sec: number) => new Date(Date.now() - sec * 1000);
    const kind = i % 6;
    const attestation = ['affirming', 'warning', 'contraindicated', 'affirming', null, 'affirming'][kind];
    const affirmedAt = kind === 0 || kind === 5 ? ago(30) : kind === 3 ? ago(86_400) : null;
    const sl = [i % 5, 2, (i + 1) % 5, 1, 2, 3, i % 3];
    await ds.query(
      `INSERT INTO devices (id, product_id, manufacturer_org_id, operator_org_id, status, key_type, public_key_spki, cert_serial, cert_not_after,
         firmware_version, firmware_security_counter, attestation_status, attestation_at, affirmed_at, last_seen_at, sl_evidenced, sl_declared, below_target)
       VALUES ($1, $2, $3, $4, $5, 'P-256', decode('00', 'hex'), $6, now() + interval '90 days', $7, 4, $8, $9, $10, now(), $11::jsonb, $11::jsonb, $12)`,
      [
        id, productId, manufacturerId, operatorId, kind === 5 ? 'revoked' : 'active', `0a${String(seq).padStart(30, '0')}`,
        kind === 4 ? null : i % 2 ? '1.1.0' : '1.0.0', attestation, attestation ? ago(20) : null, affirmedAt,
        JSON.stringify(Object.fromEntries(sl.map((l, k) => [`FR${k + 1}`, l]))), i % 4 === 0,
      ],
    );
    return id;
  }

  /** A simulated device of the fixture's product: enrolled, connected over MQTT, its first result in, its hardening report scored. */
  async function simulated(fixture: Fixture, behaviour: Behaviour): Promise<SimulatedDevice> {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, behaviour, reconnectPeriodMs: 0 });
    devices.push(d);
    await d.enroll();
    await d.connect();
    await d.waitForResult(30_000, { since: 0 });
    await eventually(`the result and the score of ${d.deviceId}`, async () => {
      const [history, score] = await Promise.all([s.api.get(`/api/v1/devices/${d.deviceId}/attestations?limit=1`, operator.key), s.api.get(`/api/v1/devices/${d.deviceId}/score`, operator.key)]);
      return history.body.items?.length && score.status === 200 && score.body.reportedAt ? true : undefined;
    });
    return d;
  }

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    ds = s.app.get(DataSource);
    operator = await createTenant(s.api, 'operator');
    bulk = await createTenant(s.api, 'operator');
    [plc, gateway] = [await productWithRelease(s.api, { operator }), await productWithRelease(s.api, { operator })];
    const plan: Array<[Fixture, Behaviour, keyof typeof fleet]> = [
      [plc, 'good', 'good'],
      [plc, 'good', 'good'],
      [plc, 'good', 'good'],
      [plc, 'tampered-component', 'tampered'],
      [plc, 'weak-config', 'weak'],
      [gateway, 'good', 'good'],
      [gateway, 'good', 'good'],
      [gateway, 'weak-config', 'weak'],
    ];
    const made = await Promise.all(plan.map(([fixture, behaviour]) => simulated(fixture, behaviour)));
    made.forEach((d, i) => fleet[plan[i][2]].push(d.deviceId));

    const maker = await createTenant(s.api, 'manufacturer');
    const other = await createTenant(s.api, 'operator');
    bulkProducts = [await createProduct(s.api, maker.key, { name: 'Line PLC' }), await createProduct(s.api, maker.key, { name: 'Edge Gateway' })];
    for (let i = 0; i < 60; i++) await insertDevice(bulkProducts[i < 40 ? 0 : 1].id, maker.orgId, bulk.orgId, i);
    for (let i = 0; i < 10; i++) await insertDevice(bulkProducts[0].id, maker.orgId, other.orgId, i); // another tenant's: never shown
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });

  async function newPage(opts: { key?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    if (opts.key) await context.addInitScript((key) => localStorage.setItem('fleetguard.apiKey', key), opts.key);
    // Records what the page's EventSource receives from the service (it still connects to the real stream).
    await context.addInitScript(() => {
      const w = window as unknown as { EventSource: typeof EventSource; fleetEvents: Array<{ type: string; deviceId?: string }>; fleetEventUrls: string[] };
      const Native = w.EventSource;
      w.fleetEvents = [];
      w.fleetEventUrls = [];
      w.EventSource = class extends Native {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          w.fleetEventUrls.push(String(url));
          const types = ['attestation.result', 'attestation.failed', 'attestation.stale', 'device.enrolled', 'device.revoked', 'score.changed', 'score.below-target'];
          for (const t of types) this.addEventListener(t, (e) => w.fleetEvents.push({ type: t, deviceId: JSON.parse((e as MessageEvent).data).deviceId }));
        }
      };
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return { context, page };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  const rows = (page: Page) => page.locator('#devices-table tbody tr[data-device-id]');
  const count = async (page: Page, name: string) => Number(await page.textContent(`.cards [data-count="${name}"]`));
  async function waitForTable(page: Page) {
    await page.waitForSelector('#devices-table[data-loading="false"]');
  }
  async function shownRows(page: Page) {
    return rows(page).evaluateAll((trs) =>
      trs.map((tr) => ({ id: (tr as HTMLElement).dataset.deviceId!, integrity: (tr as HTMLElement).dataset.integrity!, product: tr.children[1].textContent!, below: tr.children[6].textContent! })),
    );
  }
  /** Applies nothing itself: waits for the table to show what GET /api/v1/devices gives for the query, and checks each row. */
  async function expectTable(page: Page, key: string, query: string, check: (tr: { id: string; integrity: string; product: string; below: string }) => boolean) {
    const api = (await s.api.get(`/api/v1/devices?limit=25&${query}`, key)).body;
    const ids: string[] = api.items.map((d: { id: string }) => d.id);
    await page.waitForFunction(
      (want) => document.querySelector('#devices-table')!.getAttribute('data-loading') === 'false' && Array.from(document.querySelectorAll('#devices-table tbody tr[data-device-id]')).map((tr) => (tr as HTMLElement).dataset.deviceId).join() === want,
      ids.join(),
    );
    const shown = await shownRows(page);
    expect(shown.map((r) => r.id)).toEqual(ids);
    for (const r of shown) expect(check(r)).toBe(true);
    return shown;
  }
  const sorted = (ids: string[]) => [...ids].sort();

  it('is served at / without a key, with Chart.js from node_modules', async () => {
    const html = await fetch(`${s.urls.operator}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await html.text()).toContain('/dashboard/app.js');
    for (const [p, type] of [['/dashboard/app.js', /javascript/], ['/dashboard/app.css', /css/], ['/dashboard/vendor/chart.umd.js', /javascript/]] as const) {
      const r = await fetch(`${s.urls.operator}${p}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(type);
    }
    for (const name of ['secrets.txt', 'constructor', 'index.html', '..%2Fdashboard.controller.ts']) expect((await fetch(`${s.urls.operator}/dashboard/${name}`)).status).toBe(404);
    expect((await fetch(`${s.urls.operator}/dashboard/..%2F..%2Fmain.ts`)).status).toBe(404);
  });

  it('asks for a key, refuses a wrong one, then shows the simulated fleet\'s counts as /api/v1/fleet/summary gives them', async () => {
    const { context, page } = await newPage();
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('#login-form');
    await shot(page, '1-login');
    await page.fill('#api-key', 'fg_0123456789abcdef_notarealsecretnotarealsecret');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')!.textContent!.includes('401'));

    await page.fill('#api-key', operator.key);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.evaluate(() => localStorage.getItem('fleetguard.apiKey'))).toBe(operator.key);

    const summary = (await s.api.get('/api/v1/fleet/summary', operator.key)).body;
    // what the simulated devices made of the fleet: the tampered one failed, the others (weak config too) are affirmed
    expect(summary.total).toBe(8);
    expect(summary.byStatus).toMatchObject({ affirming: 7, contraindicated: 1, warning: 0, stale: 0, revoked: 0, none: 0 });
    expect(summary.products).toBe(2);
    for (const st of INTEGRITY_STATUSES) expect(await count(page, st)).toBe(summary.byStatus[st]);
    expect(await count(page, 'total')).toBe(summary.total);
    expect(await count(page, 'belowTarget')).toBe(summary.belowTarget);
    expect(await count(page, 'products')).toBe(2);
    // SL-C distribution: the chart is drawn, and the table beside it holds the summary's numbers
    expect(await page.evaluate(() => typeof (window as unknown as { Chart?: unknown }).Chart)).toBe('function');
    expect((await page.locator('#sl-chart').boundingBox())!.height).toBeGreaterThan(100);
    for (const fr of FRS) {
      let devicesAtSomeLevel = 0;
      for (const level of ['0', '1', '2', '3', '4']) {
        const n = Number(await page.textContent(`#sl-table tr[data-level="${level}"] td[data-fr="${fr}"]`));
        expect(n).toBe(summary.slDistribution[fr]?.[level] ?? 0);
        devicesAtSomeLevel += n;
      }
      expect(devicesAtSomeLevel).toBe(8); // every simulated device reported its hardening and was scored
    }
    // one release per product, on every device of it that was affirmed (a contraindicated result records no firmware)
    const firmware = await page.locator('#firmware-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    expect(firmware).toHaveLength(summary.firmwareVersions.length);
    expect(sorted(firmware.map((r) => `${r[0]} ${r[1]} ${r[2]}`))).toEqual(sorted([`${plc.product.name} ${plc.profile.fw.version} 4`, `${gateway.product.name} ${gateway.profile.fw.version} 3`]));
    // the failing devices: the tampered one only
    const failing = page.locator('#failing-table tbody tr[data-device-id]');
    expect(await failing.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.deviceId))).toEqual(fleet.tampered);
    expect(await failing.locator('.badge').allTextContents()).toEqual(['contraindicated']);
    await shot(page, '2-overview');
    await context.close();
  });

  it('shows the certificate audit panel: a certificate expiring within 30 days is listed with its device', async () => {
    const id = fleet.good[0];
    await ds.query(`UPDATE devices SET cert_not_after = now() + interval '5 days' WHERE id = $1`, [id]);
    try {
      const { context, page } = await newPage();
      await page.goto(`${s.urls.operator}/`);
      await page.waitForSelector('#login-form');
      await page.fill('#api-key', operator.key);
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('body[data-state="ready"]');
      const api = (await s.api.get('/api/v1/pki/audit?days=30', operator.key)).body.findings;
      expect(api).toContainEqual(expect.objectContaining({ kind: 'device-certificate-expiring', deviceId: id }));
      expect(await page.textContent('#pki-audit-count')).toBe(String(api.length));
      const row = page.locator('#pki-audit-table tbody tr[data-kind="device-certificate-expiring"]');
      expect(await row.count()).toBe(1);
      expect(await row.locator('a').textContent()).toBe(id);
      expect(await row.textContent()).toContain('expires in 4 day');
      await context.close();
    } finally {
      await ds.query(`UPDATE devices SET cert_not_after = (SELECT not_after FROM certificates WHERE serial = devices.cert_serial) WHERE id = $1`, [id]);
    }
  });

  it('filters the simulated fleet\'s table by integrity, product and target', async () => {
    const { context, page } = await newPage({ key: operator.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    const all = await expectTable(page, operator.key, '', () => true);
    expect(sorted(all.map((r) => r.id))).toEqual(sorted([...fleet.good, ...fleet.tampered, ...fleet.weak]));

    await page.selectOption('#filter-status', 'contraindicated');
    expect((await expectTable(page, operator.key, 'status=contraindicated', (r) => r.integrity === 'contraindicated')).map((r) => r.id)).toEqual(fleet.tampered);
    await page.selectOption('#filter-status', 'affirming');
    expect(sorted((await expectTable(page, operator.key, 'status=affirming', (r) => r.integrity === 'affirming')).map((r) => r.id))).toEqual(sorted([...fleet.good, ...fleet.weak]));
    await page.selectOption('#filter-product', { label: gateway.product.name });
    const gatewayShown = await expectTable(page, operator.key, `status=affirming&productId=${gateway.product.id}`, (r) => r.integrity === 'affirming' && r.product === gateway.product.name);
    expect(gatewayShown).toHaveLength(3);
    await shot(page, '3-filter-product');
    await page.click('#filter-clear');
    await expectTable(page, operator.key, '', () => true);
    await page.selectOption('#filter-below', 'true');
    const below = await expectTable(page, operator.key, 'belowTarget=true', (r) => r.below === 'yes');
    expect(below.map((r) => r.id)).toEqual(expect.arrayContaining(fleet.weak)); // a weak configuration falls short of the target
    await page.selectOption('#filter-below', 'false');
    const meets = await expectTable(page, operator.key, 'belowTarget=false', (r) => r.below === 'no');
    expect(below.length + meets.length).toBe(8);
    // a status card filters too
    await page.click('#filter-clear');
    await page.click('.card[data-status="contraindicated"]');
    expect((await expectTable(page, operator.key, 'status=contraindicated', (r) => r.integrity === 'contraindicated')).map((r) => r.id)).toEqual(fleet.tampered);
    await context.close();
  });

  it('pages through a larger device table and filters it', async () => {
    const { context, page } = await newPage({ key: bulk.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await waitForTable(page);
    const seen = new Set<string>();
    for (let p = 1; ; p++) {
      for (const id of await rows(page).evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.deviceId!))) seen.add(id);
      if (await page.isDisabled('#next-page')) break;
      await page.click('#next-page');
      await page.waitForFunction((n) => document.querySelector('#page-info')!.textContent!.startsWith(`page ${n},`), p + 1);
      await waitForTable(page);
    }
    expect(seen.size).toBe(60);
    expect([...seen].every((id) => id.startsWith('dash-'))).toBe(true);

    await page.selectOption('#filter-status', 'warning');
    expect(await expectTable(page, bulk.key, 'status=warning', (r) => r.integrity === 'warning')).toHaveLength(10);
    await shot(page, '3-filter-warning');
    await page.selectOption('#filter-product', { label: 'Edge Gateway' });
    expect((await expectTable(page, bulk.key, `status=warning&productId=${bulkProducts[1].id}`, (r) => r.integrity === 'warning' && r.product === 'Edge Gateway')).length).toBeGreaterThan(0);
    await page.click('#filter-clear');
    await page.selectOption('#filter-below', 'true');
    expect(await expectTable(page, bulk.key, 'belowTarget=true', (r) => r.below === 'yes')).toHaveLength(15);
    // a status card filters too
    await page.click('#filter-clear');
    await page.click('.card[data-status="stale"]');
    expect(await expectTable(page, bulk.key, 'status=stale', (r) => r.integrity === 'stale')).toHaveLength(20);

    // the report downloads with the key sent as a header
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    expect(download.suggestedFilename()).toMatch(/^fleetguard-report-.*\.csv$/);
    const csv = fs.readFileSync((await download.path())!, 'utf8').split('\r\n').filter(Boolean);
    expect(csv[0]).toMatch(/^id,productId,productName,/);
    expect(csv).toHaveLength(61);
    await context.close();
  });

  it('opens a device page from the table; an unknown device says so', async () => {
    const { context, page } = await newPage({ key: bulk.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await waitForTable(page);
    const first = rows(page).first();
    const id = (await first.getAttribute('data-device-id'))!;
    await first.locator('a').click();
    await page.waitForSelector('#device[data-loaded="true"]');
    expect(page.url()).toContain(`#/devices/${id}`);
    expect(await page.textContent('#device h1')).toBe(id);
    const text = (await page.textContent('#device'))!;
    expect(text).toContain('Line PLC');
    expect(text).toContain('No attestation result yet'); // seeded by SQL: the service holds no result for it
    expect(await page.locator('#sl-vector tbody tr').count()).toBe(7);
    await shot(page, '4-device');
    await page.goto(`${s.urls.operator}/#/devices/nope-0000`);
    await page.waitForFunction(() => document.querySelector('#device')!.textContent!.includes('No device nope-0000'));
    await context.close();
  });

  it('shows a tampered device\'s reasons, its event log against the reference values (kernel differs), and its SL-C against the target with the gaps', async () => {
    const id = fleet.tampered[0];
    const result = (await s.api.get(`/api/v1/devices/${id}/attestations?limit=1`, operator.key)).body.items[0];
    const score = (await s.api.get(`/api/v1/devices/${id}/score`, operator.key)).body;
    expect(result.status).toBe('contraindicated');
    expect(result.reasons.join(' ')).toMatch(/kernel/);

    const { context, page } = await newPage({ key: operator.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.click(`#failing-table tr[data-device-id="${id}"] a`);
    await page.waitForSelector('#device[data-loaded="true"]');
    expect(await page.textContent('#device h1')).toBe(id);
    expect(await page.textContent('#device .device-head .badge')).toBe('contraindicated');
    expect(await page.textContent('#device')).toContain(plc.product.name);

    // the reasons and findings of the last result, as the service recorded them
    expect(await page.locator('#attestation-reasons li').allTextContents()).toEqual(result.reasons);
    expect(result.findings.length).toBeGreaterThan(0);
    const findings = (await page.textContent('#attestation-findings'))!;
    for (const f of result.findings) expect(findings).toContain(f.code);

    // the reported boot events beside the release's reference values, with the service's verdict
    // on them: its reference-values findings (only the kernel differs), not a comparison of its own
    const reference = sampleBootEvents();
    const kernel = reference.find((e) => e.component === 'kernel')!;
    const verdicts = result.findings.filter((f: { stage: string }) => f.stage === 'reference-values');
    expect(verdicts.map((f: { code: string }) => f.code)).toEqual(['component-digest-mismatch']);
    expect(verdicts[0].message).toContain('kernel');
    expect(await page.locator('#event-log tbody tr').count()).toBe(reference.length);
    const placed = verdicts.filter((f: { event?: number }) => typeof f.event === 'number');
    const listed = verdicts.filter((f: { event?: number }) => typeof f.event !== 'number');
    expect(await page.locator('#event-log tbody tr.mismatch').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.component))).toEqual(placed.map(() => 'kernel'));
    expect(await page.locator('#event-log-findings li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.code))).toEqual(listed.map((f: { code: string }) => f.code));
    for (const f of verdicts) expect(await page.textContent('#device')).toContain(f.message);
    const kernelRow = page.locator('#event-log tbody tr[data-component="kernel"]');
    expect(await kernelRow.locator('td.digest-reference').textContent()).toBe(kernel.digest.toLowerCase());
    const reported = (await kernelRow.locator('td.digest-actual').textContent())!;
    expect(reported).toMatch(/^[0-9a-f]{64}$/);
    expect(reported).not.toBe(kernel.digest.toLowerCase());

    // SL-C: the evidenced and declared vectors against the product's target, as GET /score gives them, and the gaps
    for (const fr of FRS) {
      const cells = await page.locator(`#sl-vector tr[data-fr="${fr}"] td`).allTextContents();
      expect(cells.slice(0, 4)).toEqual([fr, String(score.evidenced[fr]), String(score.declared[fr]), String(score.target[fr])]);
      expect(cells[4]).toBe(score.evidenced[fr] < score.target[fr] ? `below by ${score.target[fr] - score.evidenced[fr]}` : 'meets');
    }
    const gapFrs = FRS.filter((fr) => score.gaps[fr]?.items?.length);
    expect(gapFrs.length).toBeGreaterThan(0);
    expect(await page.locator('[data-gap-fr]').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.gapFr))).toEqual(gapFrs);
    for (const fr of gapFrs) {
      const block = (await page.textContent(`[data-gap-fr="${fr}"]`))!;
      for (const item of score.gaps[fr].items) expect(block).toContain(item.id);
    }
    await shot(page, '5-device-tampered');
    await context.close();
  });

  it('shows a weak configuration\'s SL-C below the target', async () => {
    const id = fleet.weak[0];
    const score = (await s.api.get(`/api/v1/devices/${id}/score`, operator.key)).body;
    expect(score.belowTarget).toBe(true);
    const { context, page } = await newPage({ key: operator.key });
    await page.goto(`${s.urls.operator}/#/devices/${id}`);
    await page.waitForSelector('#device[data-loaded="true"]');
    expect(await page.textContent('#device .device-head .badge')).toBe('affirming');
    expect(await page.locator('#event-log tbody tr.mismatch').count()).toBe(0);
    expect(await page.locator('#event-log-findings').count()).toBe(0);
    await page.waitForSelector('#event-log-ok');
    const below = FRS.filter((fr) => score.evidenced[fr] < score.target[fr]);
    expect(below.length).toBeGreaterThan(0);
    for (const fr of FRS) {
      expect(await page.textContent(`#sl-vector tr[data-fr="${fr}"] td:last-child`)).toBe(below.includes(fr) ? `below by ${score.target[fr] - score.evidenced[fr]}` : 'meets');
    }
    for (const fr of below) expect(await page.locator(`[data-gap-fr="${fr}"] li`).count()).toBe(score.gaps[fr].items.length);
    await shot(page, '6-device-weak');
    await context.close();
  });

  it('shows a zone: SL-T against SL-A per FR as GET /zones/:id gives them, who holds each FR down, the gaps and a countermeasure apart', async () => {
    const members = [fleet.good[0], fleet.tampered[0], fleet.weak[0]];
    const slT = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };
    const zone = (await s.api.post('/api/v1/zones', { name: 'Cell A', targetLevels: slT }, operator.key)).body;
    expect((await s.api.request('PUT', `/api/v1/zones/${zone.id}/devices`, { key: operator.key, body: { add: members } })).status).toBe(200);
    const before = (await s.api.get(`/api/v1/zones/${zone.id}`, operator.key)).body;
    const gap = FRS.flatMap((fr) => before.assessment.perFr[fr].gaps)[0];
    expect(gap).toBeDefined(); // the weak and tampered devices miss something up to SL 2
    expect((await s.api.post(`/api/v1/zones/${zone.id}/countermeasures`, { requirement: gap.requirement, description: 'the cell sits behind a monitored conduit' }, operator.key)).status).toBe(201);
    const z = (await s.api.get(`/api/v1/zones/${zone.id}`, operator.key)).body;

    const { context, page } = await newPage({ key: operator.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector(`#zones-table tr[data-zone-id="${zone.id}"]`);
    expect(await page.textContent(`#zones-table tr[data-zone-id="${zone.id}"] td:nth-child(2)`)).toBe('3');
    await page.click(`#zones-table tr[data-zone-id="${zone.id}"] a`);
    await page.waitForSelector('#zone[data-loaded="true"]');
    expect(page.url()).toContain(`#/zones/${zone.id}`);
    expect(await page.textContent('#zone h1')).toBe('Zone Cell A');
    for (const fr of FRS) {
      const f = z.assessment.perFr[fr];
      const cells = await page.locator(`#zone-levels tr[data-fr="${fr}"] td`).allTextContents();
      const lvl = (v: number | null) => (v === null ? '–' : String(v));
      expect(cells.slice(0, 4)).toEqual([fr, String(f.slT), lvl(f.slA), lvl(f.slAWithoutCountermeasures)]);
      expect(cells[4]).toBe(f.slA < f.slT ? `below by ${f.slT - f.slA}` : 'meets');
      const held = await page.locator(`#zone-levels tr[data-fr="${fr}"] td.held-down a`).allTextContents();
      expect(held).toEqual(f.heldDownBy.slice(0, 10));
    }
    const gaps = FRS.flatMap((fr) => z.assessment.perFr[fr].gaps.map((g: { requirement: string }) => `${fr} ${g.requirement}`));
    const shownGaps = await page.locator('#zone-gaps tbody tr').evaluateAll((trs) => trs.map((tr) => `${(tr as HTMLElement).dataset.fr} ${(tr as HTMLElement).dataset.requirement}`));
    expect(shownGaps).toEqual(gaps);
    expect(shownGaps.filter((g) => g.endsWith(` ${gap.requirement}`))).toEqual([]); // covered by the countermeasure now
    const cm = await page.locator('#zone-countermeasures tbody tr').allTextContents();
    expect(cm).toHaveLength(1);
    expect(cm[0]).toContain(gap.requirement);
    expect(cm[0]).toContain('the cell sits behind a monitored conduit');
    // The OSCAL export button downloads the document the API gives.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zone button[data-export="oscal"]')]);
    expect(download.suggestedFilename()).toBe(`assessment-zone-${zone.id}.oscal.json`);
    const doc = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    expect(doc['assessment-results'].metadata['oscal-version']).toBe('1.1.3');
    await shot(page, '9-zone');
    await page.goto(`${s.urls.operator}/#/zones/00000000-0000-4000-8000-000000000000`);
    await page.waitForFunction(() => document.querySelector('#zone')!.textContent!.includes('No such zone'));
    await context.close();
  });

  it('shows each item\'s evidence grade on the device page, and when the reported facts do not count', async () => {
    const { context, page } = await newPage({ key: operator.key });
    for (const id of [fleet.good[0], fleet.tampered[0]]) {
      const score = (await s.api.get(`/api/v1/devices/${id}/score`, operator.key)).body;
      await page.goto(`${s.urls.operator}/#/devices/${id}`);
      await page.waitForSelector('#device[data-loaded="true"]');
      expect(await page.locator('#grade-items tr[data-item]').count()).toBe(score.items.length);
      const grades = await page.locator('#grade-items tr[data-item]').evaluateAll((trs) => trs.map((tr) => [(tr as HTMLElement).dataset.item, (tr as HTMLElement).dataset.grade]));
      expect(grades).toEqual(score.items.map((it: { id: string; grade: string | null }) => [it.id, it.grade ?? '']));
      const counts = (await page.textContent('#grade-counts'))!;
      for (const g of ['attested', 'observed', 'reported', 'declared']) {
        const n = score.items.filter((it: { status: string; grade: string }) => it.status === 'evidenced' && it.grade === g).length;
        expect(counts).toContain(`${g} ${n}`);
      }
      expect(await page.getAttribute('#report-counts', 'data-counts')).toBe(String(score.report.counts));
      expect(await page.textContent('#sl-label')).toContain(score.label);
      if (!score.report.counts) expect(await page.textContent('#report-counts')).toContain('do not count');
      await shot(page, id === fleet.good[0] ? '10-grades-good' : '11-grades-tampered');
    }
    await context.close();
  });

  it('follows the service\'s event stream: a device that joins, then a revocation, show up without a reload', async () => {
    const overview = await newPage({ key: operator.key });
    await overview.page.goto(`${s.urls.operator}/`);
    await overview.page.waitForSelector('body[data-state="ready"]');
    await overview.page.waitForSelector('#live.on');
    const victim = fleet.good[0];
    const detail = await newPage({ key: operator.key });
    await detail.page.goto(`${s.urls.operator}/#/devices/${victim}`);
    await detail.page.waitForSelector('#device[data-loaded="true"]');
    await detail.page.waitForSelector('#live.on');
    expect(await detail.page.textContent('#device .device-head .badge')).toBe('affirming');
    for (const { page } of [overview, detail]) {
      // the real stream, opened with a single-use ticket: never the key in the URL
      const urls = await page.evaluate(() => (window as unknown as { fleetEventUrls: string[] }).fleetEventUrls);
      expect(urls).toHaveLength(1);
      expect(new URL(urls[0], s.urls.operator).pathname).toBe('/api/v1/events');
      expect(new URL(urls[0], s.urls.operator).searchParams.get('ticket')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(urls[0]).not.toContain(encodeURIComponent(operator.key));
      expect(urls[0]).not.toContain(operator.key);
      await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    }
    const received = (page: Page) => page.evaluate(() => (window as unknown as { fleetEvents: Array<{ type: string; deviceId?: string }> }).fleetEvents);
    const waitForCount = (page: Page, name: string, n: number) =>
      page.waitForFunction(([name, n]) => document.querySelector(`.cards [data-count="${name}"]`)!.textContent === String(n), [name, n] as const, { timeout: 15_000 });

    // a new device enrolls and is attested: the overview counts it
    const total = await count(overview.page, 'total');
    const affirming = await count(overview.page, 'affirming');
    const joined = await simulated(gateway, 'good');
    await waitForCount(overview.page, 'total', total + 1);
    await waitForCount(overview.page, 'affirming', affirming + 1);
    expect(await received(overview.page)).toContainEqual({ type: 'attestation.result', deviceId: joined.deviceId });
    await overview.page.waitForSelector(`#devices-table tr[data-device-id="${joined.deviceId}"]`);

    // the operator revokes a device through the API: the service publishes device.revoked, both pages follow
    const revoked = await s.api.post(`/api/v1/devices/${victim}/revoke`, { reason: 'keyCompromise' }, operator.key);
    expect(revoked.status).toBe(200);
    await waitForCount(overview.page, 'revoked', 1);
    await waitForCount(overview.page, 'affirming', affirming);
    expect(await count(overview.page, 'total')).toBe(total + 1);
    await overview.page.waitForSelector(`#devices-table tr[data-device-id="${victim}"][data-integrity="revoked"]`, { timeout: 15_000 });
    await detail.page.waitForFunction(() => document.querySelector('#device .device-head .badge')?.textContent === 'revoked', undefined, { timeout: 15_000 });
    expect(await detail.page.textContent('#device')).toContain('revoked');
    for (const { page } of [overview, detail]) {
      expect(await received(page)).toContainEqual({ type: 'device.revoked', deviceId: victim });
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true); // not reloaded
    }
    const summary = (await s.api.get('/api/v1/fleet/summary', operator.key)).body;
    expect(summary.byStatus.revoked).toBe(1);
    for (const st of INTEGRITY_STATUSES) expect(await count(overview.page, st)).toBe(summary.byStatus[st]);
    await shot(overview.page, '7-live-revoked');
    await shot(detail.page, '8-live-revoked-device');
    await overview.context.close();
    await detail.context.close();
  });

  it('shows a Linux device\'s decoded boot events and IMA entries, naming the event and the file that failed and why', async () => {
    // Its own tenant and product, so the fleet counts of the other tests stay as they are.
    const linuxOperator = await createTenant(s.api, 'operator');
    const fx = await productWithRelease(s.api, { operator: linuxOperator });
    const log = realEventLog('ubuntu-qemu.bin');
    const base = `/api/v1/products/${fx.product.id}`;
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const golden = await s.api.request('POST', `${base}/firmware/${encodeURIComponent(fx.profile.fw.version)}/reference-values/event-log`, { key: fx.manufacturer.key, raw: log, headers: { 'content-type': 'application/octet-stream' } });
    expect(golden.status).toBe(200);
    expect((await s.api.request('PUT', `${base}/measured-boot-policy`, { key: fx.manufacturer.key, body: { secureBoot: 'required' } })).status).toBe(200);
    expect((await s.api.request('PUT', `${base}/runtime-policy`, { key: fx.manufacturer.key, body: { meta: { version: 1 }, digests: { '/usr/bin/gatewayd': [sha('gatewayd 3.1')] }, excludes: ['boot_aggregate'] } })).status).toBe(200);
    const [token] = await fx.tokens(1);
    const d = new SimulatedDevice({
      operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fx.profile, reconnectPeriodMs: 0, hardening: false,
      linux: { eventLog: log, tpm: 'software', tamper: { secureBootOff: true }, imaFiles: [['/usr/bin/gatewayd', sha('gatewayd 3.1')], ['/tmp/.x/miner', sha('miner')]] },
    });
    devices.push(d);
    await d.enroll();
    await d.attestOverHttp();
    const result = (await s.api.get(`/api/v1/devices/${d.deviceId}/attestations?limit=1`, linuxOperator.key)).body.items[0];
    expect(result.status).toBe('contraindicated');
    const view = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations/${result.id}/linux-evidence`, linuxOperator.key);
    expect(view.status).toBe(200);
    expect(view.body.boot.events).toHaveLength(105);
    const failedEvents = view.body.boot.events.filter((e: { findings: unknown[] }) => e.findings.length);
    expect(failedEvents.map((e: { index: number }) => e.index)).toContain(4);
    expect(view.body.ima.entries.find((e: { path: string }) => e.path === '/tmp/.x/miner').findings[0]).toMatchObject({ stage: 'ima', code: 'ima-file-unknown' });
    // Another tenant does not see it; a result id that is not the device's is a 404.
    expect((await s.api.get(`/api/v1/devices/${d.deviceId}/attestations/${result.id}/linux-evidence`, operator.key)).status).toBe(404);
    expect((await s.api.get(`/api/v1/devices/${fleet.good[0]}/attestations/${result.id}/linux-evidence`, operator.key)).status).toBe(404);

    const { context, page } = await newPage({ key: linuxOperator.key });
    await page.goto(`${s.urls.operator}/#/devices/${d.deviceId}`);
    await page.waitForSelector('#device[data-loaded="true"]');
    expect(await page.locator('#boot-events tbody tr').count()).toBe(105);
    const sbRow = page.locator('#boot-events tbody tr[data-event="4"]');
    expect(await sbRow.getAttribute('class')).toBe('mismatch');
    expect(await sbRow.textContent()).toMatch(/EV_EFI_VARIABLE_DRIVER_CONFIG.*SecureBoot.*Secure Boot is disabled, and the policy requires it/);
    expect(await page.locator('#boot-events tbody tr.mismatch').evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.event)))).toEqual(failedEvents.map((e: { index: number }) => e.index));
    expect(await page.textContent('#boot-summary')).toMatch(new RegExp(`105 events, banks sha1, sha256; ${failedEvents.length} event\\(s\\) failed`));
    const miner = page.locator('#ima-entries tbody tr.mismatch');
    expect(await miner.count()).toBe(1);
    expect(await miner.textContent()).toMatch(/\/tmp\/\.x\/miner.*ima-file-unknown.*is not in the runtime policy/);
    expect(await page.locator('#ima-entries tbody tr:not(.mismatch)').evaluateAll((trs) => trs.map((tr) => tr.children[2].textContent))).toEqual(['boot_aggregate', '/usr/bin/gatewayd']);
    await shot(page, '9-linux-device');
    await context.close();
  });

  it('threw no script error on any page', () => {
    expect(pageErrors).toEqual([]);
  });
});
