import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { DataSource } from 'typeorm';
import { EventBusService } from '@fleetguard/events';
import { TestService, createProduct, createTenant, startTestService } from './support/service';

/** Debian's chromium, driven by playwright-core (ENVIRONMENT.md); never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.resolve(__dirname, '../test-artifacts');
const STATUSES = ['affirming', 'warning', 'contraindicated', 'stale', 'revoked', 'none'];

const suite = HAVE_CHROMIUM ? describe : describe.skip;
if (!HAVE_CHROMIUM) {
  console.warn(`dashboard e2e skipped: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);
}

suite(`dashboard in chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is absent)`}`, () => {
  let s: TestService;
  let ds: DataSource;
  let browser: Browser;
  let operator: { orgId: string; key: string };
  let products: { id: string; name: string }[];
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

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    s = await startTestService();
    ds = s.app.get(DataSource);
    const maker = await createTenant(s.api, 'manufacturer');
    operator = await createTenant(s.api, 'operator');
    const other = await createTenant(s.api, 'operator');
    products = [await createProduct(s.api, maker.key, { name: 'Line PLC' }), await createProduct(s.api, maker.key, { name: 'Edge Gateway' })];
    for (let i = 0; i < 60; i++) await insertDevice(products[i < 40 ? 0 : 1].id, maker.orgId, operator.orgId, i);
    for (let i = 0; i < 10; i++) await insertDevice(products[0].id, maker.orgId, other.orgId, i); // another tenant's: never shown
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  async function newPage(opts: { key?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    if (opts.key) await context.addInitScript((key) => localStorage.setItem('fleetguard.apiKey', key), opts.key);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return { context, page };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  const rows = (page: Page) => page.locator('#devices-table tbody tr[data-device-id]');
  async function waitForTable(page: Page) {
    await page.waitForSelector('#devices-table[data-loading="false"]');
  }

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

  it('asks for a key, refuses a wrong one, then shows the counts of /api/v1/fleet/summary', async () => {
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
    expect(summary.total).toBe(60);
    for (const st of STATUSES) expect(Number(await page.textContent(`.cards [data-count="${st}"]`))).toBe(summary.byStatus[st]);
    expect(Number(await page.textContent('.cards [data-count="total"]'))).toBe(summary.total);
    expect(Number(await page.textContent('.cards [data-count="belowTarget"]'))).toBe(summary.belowTarget);
    expect(Number(await page.textContent('.cards [data-count="products"]'))).toBe(2);
    // SL-C distribution: the chart is drawn, and the table beside it holds the summary's numbers
    expect(await page.evaluate(() => typeof (window as unknown as { Chart?: unknown }).Chart)).toBe('function');
    expect((await page.locator('#sl-chart').boundingBox())!.height).toBeGreaterThan(100);
    for (const fr of ['FR1', 'FR3', 'FR7']) {
      for (const level of ['0', '1', '2', '3', '4']) {
        expect(Number(await page.textContent(`#sl-table tr[data-level="${level}"] td[data-fr="${fr}"]`))).toBe(summary.slDistribution[fr][level]);
      }
    }
    expect(await page.locator('#firmware-table tbody tr').count()).toBe(summary.firmwareVersions.length);
    // stale and failing devices
    const failing = page.locator('#failing-table tbody tr[data-device-id]');
    expect(await failing.count()).toBe(10);
    for (const text of await failing.locator('.badge').allTextContents()) expect(['stale', 'warning', 'contraindicated', 'none']).toContain(text);
    await shot(page, '2-overview');
    await context.close();
  });

  it('pages through the device table and filters it', async () => {
    const { context, page } = await newPage({ key: operator.key });
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

    const expectFiltered = async (query: string, check: (tr: { integrity: string; product: string; below: string }) => boolean) => {
      await waitForTable(page);
      const api = (await s.api.get(`/api/v1/devices?limit=25&${query}`, operator.key)).body;
      await page.waitForFunction((n) => document.querySelectorAll('#devices-table tbody tr[data-device-id]').length === n, api.items.length);
      const shown = await rows(page).evaluateAll((trs) =>
        trs.map((tr) => ({ id: (tr as HTMLElement).dataset.deviceId!, integrity: (tr as HTMLElement).dataset.integrity!, product: tr.children[1].textContent!, below: tr.children[6].textContent! })),
      );
      expect(shown.map((r) => r.id)).toEqual(api.items.map((d: { id: string }) => d.id));
      for (const r of shown) expect(check(r)).toBe(true);
      return shown.length;
    };

    await page.selectOption('#filter-status', 'warning');
    expect(await expectFiltered('status=warning', (r) => r.integrity === 'warning')).toBe(10);
    await shot(page, '3-filter-warning');
    await page.selectOption('#filter-product', { label: 'Edge Gateway' });
    expect(await expectFiltered(`status=warning&productId=${products[1].id}`, (r) => r.integrity === 'warning' && r.product === 'Edge Gateway')).toBeGreaterThan(0);
    await page.click('#filter-clear');
    await page.selectOption('#filter-below', 'true');
    expect(await expectFiltered('belowTarget=true', (r) => r.below === 'yes')).toBe(15);
    // a status card filters too
    await page.click('#filter-clear');
    await page.click('.card[data-status="stale"]');
    expect(await expectFiltered('status=stale', (r) => r.integrity === 'stale')).toBe(20);

    // the report downloads with the key sent as a header
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    expect(download.suggestedFilename()).toMatch(/^fleetguard-report-.*\.csv$/);
    const csv = fs.readFileSync((await download.path())!, 'utf8').split('\r\n').filter(Boolean);
    expect(csv[0]).toMatch(/^id,productId,productName,/);
    expect(csv).toHaveLength(61);
    await context.close();
  });

  it('opens a device page, rendering what the service has (even when the attestation and score endpoints are missing)', async () => {
    const { context, page } = await newPage({ key: operator.key });
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
    expect(text).toMatch(/No attestation result yet|Attestation history is not available/);
    expect(await page.locator('#sl-vector tbody tr').count()).toBe(7);
    await shot(page, '4-device');
    // an unknown device says so
    await page.goto(`${s.urls.operator}/#/devices/nope-0000`);
    await page.waitForFunction(() => document.querySelector('#device')!.textContent!.includes('No device nope-0000'));
    await context.close();
  });

  it('shows the last result\'s reasons, the event log against the reference values, and SL-C against the target', async () => {
    const { context, page } = await newPage({ key: operator.key });
    const id = 'dash-0002';
    const digest = (c: string) => Buffer.from(c.padEnd(32, '.')).toString('hex');
    const json = (body: unknown) => ({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    await page.route(`**/api/v1/devices/${id}/attestations?limit=1`, (r) =>
      r.fulfill(
        json({
          items: [
            {
              id: 'r-1',
              status: 'contraindicated',
              trustVector: { executables: 33, configuration: 0 },
              reasons: ['event log: kernel digest differs from the reference value', 'executables: unrecognized'],
              findings: [{ stage: 'reference-values', code: 'event.mismatch', claim: 'boot.events[1]', message: 'kernel digest differs' }],
              createdAt: new Date().toISOString(),
              firmwareVersion: '1.1.0',
              claims: { boot: { events: [{ pcr: 0, component: 'bootloader', digest: digest('bootloader') }, { pcr: 4, component: 'kernel', digest: digest('evil') }] } },
            },
          ],
          next: null,
        }),
      ),
    );
    await page.route(`**/api/v1/products/${products[0].id}/firmware`, (r) =>
      r.fulfill(json([{ version: '1.1.0', status: 'trusted', digest: 'sha256:00', referenceValues: { events: [{ pcr: 0, component: 'bootloader', digest: digest('bootloader') }, { pcr: 4, component: 'kernel', digest: digest('kernel') }] } }])),
    );
    const vec = (v: number) => Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((k) => [`FR${k}`, v]));
    await page.route(`**/api/v1/devices/${id}/score`, (r) =>
      r.fulfill(
        json({
          evidenced: { ...vec(2), FR1: 1 },
          declared: vec(2),
          target: vec(2),
          gaps: { FR1: { target: 2, achieved: 1, items: [{ id: 'CR 1.1 RE(1)', status: 'missing', reason: 'no fact shows unique identification of all users' }] } },
          items: [],
          history: [],
        }),
      ),
    );
    await page.goto(`${s.urls.operator}/#/devices/${id}`);
    await page.waitForSelector('#device[data-loaded="true"]');
    expect(await page.locator('#attestation-reasons li').allTextContents()).toEqual(['event log: kernel digest differs from the reference value', 'executables: unrecognized']);
    expect(await page.textContent('#attestation-findings')).toContain('event.mismatch');
    const mismatches = page.locator('#event-log tbody tr.mismatch');
    expect(await mismatches.count()).toBe(1);
    expect(await mismatches.getAttribute('data-component')).toBe('kernel');
    expect(await mismatches.textContent()).toContain('digest differs');
    expect(await page.locator('#event-log tbody tr').count()).toBe(2);
    expect(await page.textContent('#sl-vector tr[data-fr="FR1"]')).toContain('below by 1');
    expect(await page.textContent('#sl-vector tr[data-fr="FR2"]')).toContain('meets');
    expect(await page.textContent('[data-gap-fr="FR1"]')).toContain('CR 1.1 RE(1)');
    await shot(page, '5-device-result');
    await context.close();
  });

  it('refreshes the counts when /api/v1/events says something happened', async () => {
    const { context, page } = await newPage({ key: operator.key });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let asked = '';
    await page.route('**/api/v1/events?**', async (r) => {
      asked = r.request().url();
      await gate;
      await r.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: 'retry: 60000\nevent: device.enrolled\ndata: {"deviceId":"dash-new"}\n\n' });
    });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    expect(new URL(asked).searchParams.get('key')).toBe(operator.key);
    const before = Number(await page.textContent('.cards [data-count="total"]'));
    await insertDevice(products[0].id, (await ds.query('SELECT organization_id FROM products WHERE id = $1', [products[0].id]))[0].organization_id, operator.orgId, 0);
    release();
    await page.waitForFunction((n) => document.querySelector('.cards [data-count="total"]')!.textContent === String(n), before + 1, { timeout: 10_000 });
    await context.close();
  });

  it('follows the service\'s own event stream (key in the query string)', async () => {
    const { context, page } = await newPage({ key: operator.key });
    await page.goto(`${s.urls.operator}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#live.on');
    const before = Number(await page.textContent('.cards [data-count="total"]'));
    const makerId = (await ds.query('SELECT organization_id FROM products WHERE id = $1', [products[0].id]))[0].organization_id;
    const id = await insertDevice(products[0].id, makerId, operator.orgId, 2);
    s.app.get(EventBusService).publish('attestation.failed', { deviceId: id, audience: [makerId, operator.orgId], data: { status: 'contraindicated' } });
    await page.waitForFunction((n) => document.querySelector('.cards [data-count="total"]')!.textContent === String(n), before + 1, { timeout: 10_000 });
    expect(Number(await page.textContent('.cards [data-count="contraindicated"]'))).toBe((await s.api.get('/api/v1/fleet/summary', operator.key)).body.byStatus.contraindicated);
    await context.close();
  });

  it('threw no script error on any page', () => {
    expect(pageErrors).toEqual([]);
  });
});
