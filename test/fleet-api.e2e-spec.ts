import { DataSource } from 'typeorm';
import { createCsrPem, generateDeviceKey } from '../apps/device-sim/src/device-key.generator';
import { ADMIN_KEY, TestService, createProduct, createTenant, grantEnrollment, startTestService } from './support/service';
import { postDevice } from './support/device-http';

/** POST JSON to the device listener over HTTPS, trusting the service's CA chain. */
const FR = (v: number[]) => Object.fromEntries(v.map((l, i) => [`FR${i + 1}`, l]));
const ids = (items: Array<{ id: string }>) => items.map((d) => d.id).sort();

describe('fleet API: device list, summary, report, webhooks (in-process service)', () => {
  let s: TestService;
  let ds: DataSource;
  let ca: string;
  let m: { orgId: string; key: string };
  let o1: { orgId: string; key: string };
  let o2: { orgId: string; key: string };
  let o1Auditor: string;
  let p1: { id: string; name: string };
  let p2: { id: string; name: string };
  /** O1's devices by role in the fixture. */
  const d: Record<string, string> = {};
  const o2Devices: string[] = [];

  async function enroll(productId: string, operator: { orgId: string; key: string }, count: number): Promise<string[]> {
    const grantId = await grantEnrollment(s.api, operator.key, m.orgId, { productId, maxDevices: count });
    const t = await s.api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count, expiresInSeconds: 600, grantId }, m.key);
    expect(t.status).toBe(201);
    const out: string[] = [];
    for (const token of t.body.tokens as string[]) {
      const csr = await createCsrPem(await generateDeviceKey('P-256'));
      const r = await postDevice(`${s.urls.device}/enroll`, { token, csr }, ca);
      expect(r.status).toBe(201);
      out.push(r.body.deviceId);
    }
    return out;
  }

  /** What the attestation and scoring layers would have written. */
  async function setState(id: string, st: { attestation?: string | null; affirmedAgoSeconds?: number | null; firmware?: string; sl?: number[]; belowTarget?: boolean }) {
    const now = Date.now();
    await ds.query(
      `UPDATE devices SET attestation_status = $2, attestation_at = $3, affirmed_at = $4, firmware_version = $5, firmware_security_counter = $6,
         sl_evidenced = $7::jsonb, sl_declared = $7::jsonb, below_target = $8 WHERE id = $1`,
      [
        id,
        st.attestation ?? null,
        st.attestation ? new Date(now - 5_000) : null,
        st.affirmedAgoSeconds === undefined || st.affirmedAgoSeconds === null ? null : new Date(now - st.affirmedAgoSeconds * 1000),
        st.firmware ?? null,
        st.firmware ? 3 : null,
        st.sl ? JSON.stringify(FR(st.sl)) : null,
        st.belowTarget ?? null,
      ],
    );
  }

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '300' });
    ds = s.app.get(DataSource);
    ca = (await s.api.get('/pki/ca')).body;
    m = await createTenant(s.api, 'manufacturer');
    o1 = await createTenant(s.api, 'operator');
    o2 = await createTenant(s.api, 'operator');
    const aud = await s.api.post('/api/v1/api-keys', { organizationId: o1.orgId, roles: ['auditor'] }, ADMIN_KEY);
    expect(aud.status).toBe(201);
    o1Auditor = aud.body.key;
    p1 = await createProduct(s.api, m.key, { name: 'Line PLC' });
    p2 = await createProduct(s.api, m.key, { name: 'Edge Gateway' });
    const [a, b, c, e] = await enroll(p1.id, o1, 4);
    const [f, g] = await enroll(p2.id, o1, 2);
    Object.assign(d, { affirming: a, warning: b, contraindicated: c, staleOld: e, staleNever: f, revoked: g });
    o2Devices.push(...(await enroll(p1.id, o2, 2)));
    await setState(d.affirming, { attestation: 'affirming', affirmedAgoSeconds: 30, firmware: '1.0.0', sl: [2, 2, 2, 2, 2, 2, 2], belowTarget: false });
    await setState(d.warning, { attestation: 'warning', affirmedAgoSeconds: null, firmware: '1.0.0', sl: [1, 2, 2, 1, 2, 2, 2], belowTarget: true });
    await setState(d.contraindicated, { attestation: 'contraindicated', affirmedAgoSeconds: 60, firmware: '1.1.0', sl: [0, 1, 2, 1, 2, 2, 2], belowTarget: true });
    await setState(d.staleOld, { attestation: 'affirming', affirmedAgoSeconds: 86_400, firmware: '1.1.0' });
    await setState(g, { attestation: 'affirming', affirmedAgoSeconds: 10, firmware: '2.0.0' });
    const revoked = await s.api.post(`/api/v1/devices/${g}/revoke`, { reason: 'keyCompromise' }, o1.key);
    expect(revoked.status).toBe(200);
    await setState(o2Devices[0], { attestation: 'affirming', affirmedAgoSeconds: 1, firmware: '1.0.0', sl: [3, 3, 3, 3, 3, 3, 3], belowTarget: false });
    await setState(o2Devices[1], { attestation: 'none', affirmedAgoSeconds: null, firmware: '1.0.0' });
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
  });

  describe('GET /api/v1/devices', () => {
    it('shows each tenant its own devices only, with their integrity', async () => {
      const mine = await s.api.get('/api/v1/devices', o1.key);
      expect(mine.status).toBe(200);
      expect(ids(mine.body.items)).toEqual(Object.values(d).sort());
      expect(mine.body.next).toBeNull();
      const byId = Object.fromEntries(mine.body.items.map((x: any) => [x.id, x]));
      expect(byId[d.affirming]).toMatchObject({ integrity: 'affirming', productId: p1.id, operatorId: o1.orgId, status: 'active', firmware: { version: '1.0.0', securityCounter: 3 }, attestation: { status: 'affirming' }, levels: { belowTarget: false } });
      expect(byId[d.warning].integrity).toBe('warning');
      expect(byId[d.contraindicated].integrity).toBe('contraindicated');
      expect(byId[d.staleOld].integrity).toBe('stale');
      expect(byId[d.staleNever].integrity).toBe('stale');
      expect(byId[d.revoked]).toMatchObject({ integrity: 'revoked', status: 'revoked' });

      expect(ids((await s.api.get('/api/v1/devices', o2.key)).body.items)).toEqual([...o2Devices].sort());
      expect(ids((await s.api.get('/api/v1/devices', o1Auditor)).body.items)).toEqual(Object.values(d).sort());
      expect(ids((await s.api.get('/api/v1/devices', m.key)).body.items)).toEqual([...Object.values(d), ...o2Devices].sort());
      const otherMaker = await createTenant(s.api, 'manufacturer');
      expect((await s.api.get('/api/v1/devices', otherMaker.key)).body).toEqual({ items: [], next: null });
      expect(ids((await s.api.get('/api/v1/devices', ADMIN_KEY)).body.items)).toEqual(expect.arrayContaining([...Object.values(d), ...o2Devices]));
      // and another tenant's device is a 404, not a 403
      expect((await s.api.get(`/api/v1/devices/${o2Devices[0]}`, o1.key)).status).toBe(404);
    });

    it('asks for a key with a fleet role', async () => {
      expect((await s.api.get('/api/v1/devices')).status).toBe(401);
      expect((await s.api.get('/api/v1/fleet/summary')).status).toBe(401);
    });

    it.each([
      ['status=affirming', ['affirming']],
      ['status=warning', ['warning']],
      ['status=contraindicated', ['contraindicated']],
      ['status=stale', ['staleOld', 'staleNever']],
      ['status=revoked', ['revoked']],
      ['status=none', []],
      ['status=stale,contraindicated,warning', ['staleOld', 'staleNever', 'contraindicated', 'warning']],
      ['firmwareVersion=1.1.0', ['contraindicated', 'staleOld']],
      ['belowTarget=true', ['warning', 'contraindicated']],
      ['belowTarget=false', ['affirming']],
      ['stale=true', ['warning', 'staleOld', 'staleNever']],
      ['stale=false', ['affirming', 'contraindicated', 'revoked']],
      ['status=stale&firmwareVersion=1.1.0', ['staleOld']],
    ])('filters %s', async (query, expected) => {
      const r = await s.api.get(`/api/v1/devices?${query}`, o1.key);
      expect(r.status).toBe(200);
      expect(ids(r.body.items)).toEqual(expected.map((k) => d[k]).sort());
      const wanted = /status=([\w,]+)/.exec(query)?.[1].split(',');
      if (wanted) for (const item of r.body.items) expect(wanted).toContain(item.integrity);
    });

    it('filters by product', async () => {
      const r = await s.api.get(`/api/v1/devices?productId=${p2.id}`, o1.key);
      expect(ids(r.body.items)).toEqual([d.staleNever, d.revoked].sort());
      const none = await s.api.get(`/api/v1/devices?productId=${p2.id}`, o2.key);
      expect(none.body.items).toEqual([]);
    });

    it('pages with an opaque cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: any = await s.api.get(`/api/v1/devices?limit=2${cursor ? `&cursor=${cursor}` : ''}`, o1.key);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...r.body.items.map((x: { id: string }) => x.id));
        cursor = r.body.next;
        if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(Object.values(d).sort());
    });

    it.each([
      ['status=bogus', /status must be one or more/],
      ['status=stale,,warning', /status must be one or more/],
      ['status=stale&status=warning', /status/],
      ['limit=0', /limit must be a whole number 1\.\.500/],
      ['limit=501', /limit must be a whole number 1\.\.500/],
      ['limit=ten', /limit must be a whole number 1\.\.500/],
      ['limit=2.5', /limit must be a whole number 1\.\.500/],
      ['productId=PLC-1', /productId must be a product id/],
      ['belowTarget=yes', /belowTarget must be true or false/],
      ['stale=1', /stale must be true or false/],
      ['firmwareVersion=1.0%200', /firmwareVersion may hold/],
      ['cursor=!!!', /cursor/],
      [`cursor=${Buffer.from('x1:5').toString('base64url')}`, /cursor is not a device list cursor/],
      ['color=blue', /unknown properties are not accepted/],
    ])('refuses %s with a 400 that says why', async (query, message) => {
      const r = await s.api.get(`/api/v1/devices?${query}`, o1.key);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(r.body.message).toMatch(message);
    });
  });

  describe('GET /api/v1/fleet/summary', () => {
    it('counts by integrity, below target, SL-C per FR, firmware in the field, products', async () => {
      const r = await s.api.get('/api/v1/fleet/summary', o1.key);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        total: 6,
        products: 2,
        staleAfterSeconds: 600,
        byStatus: { affirming: 1, warning: 1, contraindicated: 1, stale: 2, revoked: 1, none: 0 },
        belowTarget: 2,
        scored: 3,
      });
      expect(r.body.slDistribution.FR1).toEqual({ '0': 1, '1': 1, '2': 1, '3': 0, '4': 0 });
      expect(r.body.slDistribution.FR3).toEqual({ '0': 0, '1': 0, '2': 3, '3': 0, '4': 0 });
      expect(Object.keys(r.body.slDistribution)).toEqual(['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7']);
      // the revoked device's 2.0.0 is not in the field
      expect(r.body.firmwareVersions).toEqual(
        expect.arrayContaining([
          { productId: p1.id, productName: 'Line PLC', version: '1.0.0', count: 2 },
          { productId: p1.id, productName: 'Line PLC', version: '1.1.0', count: 2 },
        ]),
      );
      expect(r.body.firmwareVersions).toHaveLength(2);
    });

    it('agrees with the list for every status (one rule in SQL and in code)', async () => {
      for (const key of [o1.key, o2.key, m.key]) {
        const summary = (await s.api.get('/api/v1/fleet/summary', key)).body;
        let sum = 0;
        for (const [status, n] of Object.entries(summary.byStatus as Record<string, number>)) {
          const list = await s.api.get(`/api/v1/devices?status=${status}&limit=500`, key);
          expect(list.body.items).toHaveLength(n);
          sum += n;
        }
        expect(sum).toBe(summary.total);
      }
      expect((await s.api.get('/api/v1/fleet/summary', o2.key)).body.byStatus).toMatchObject({ affirming: 1, none: 1 });
    });

    it('is open to manufacturers and auditors', async () => {
      expect((await s.api.get('/api/v1/fleet/summary', m.key)).body.total).toBe(8);
      expect((await s.api.get('/api/v1/fleet/summary', o1Auditor)).body.total).toBe(6);
    });
  });

  describe('GET /api/v1/fleet/report', () => {
    it('streams CSV: a header, one row per device, FR columns for both vectors', async () => {
      const r = await fetch(`${s.urls.operator}/api/v1/fleet/report?format=csv`, { headers: { authorization: `Bearer ${o1.key}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(r.headers.get('content-disposition')).toMatch(/attachment; filename="fleetguard-report-.*\.csv"/);
      const text = await r.text();
      const lines = text.split('\r\n');
      expect(lines.pop()).toBe('');
      const header = lines[0].split(',');
      expect(header.slice(0, 6)).toEqual(['id', 'productId', 'productName', 'operatorId', 'status', 'integrity']);
      expect(header).toEqual(expect.arrayContaining(['firmwareVersion', 'securityCounter', 'lastAttestationStatus', 'lastAttestationAt', 'belowTarget']));
      for (let i = 1; i <= 7; i++) expect(header).toEqual(expect.arrayContaining([`evidenced_FR${i}`, `declared_FR${i}`]));
      expect(lines).toHaveLength(7);
      const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
      const row = (id: string) => rows.find((x) => x.id === id)!;
      expect(row(d.contraindicated)).toMatchObject({ productName: 'Line PLC', status: 'active', integrity: 'contraindicated', firmwareVersion: '1.1.0', securityCounter: '3', lastAttestationStatus: 'contraindicated', evidenced_FR1: '0', evidenced_FR2: '1', declared_FR7: '2', belowTarget: 'true' });
      expect(new Date(row(d.contraindicated).lastAttestationAt).getTime()).toBeGreaterThan(Date.now() - 600_000);
      expect(row(d.revoked)).toMatchObject({ status: 'revoked', integrity: 'revoked', productName: 'Edge Gateway' });
      expect(row(d.staleNever)).toMatchObject({ integrity: 'stale', firmwareVersion: '', evidenced_FR1: '', belowTarget: '' });
    });

    it('streams JSON as one array', async () => {
      const r = await s.api.get('/api/v1/fleet/report?format=json', o1.key);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(ids(r.body)).toEqual(Object.values(d).sort());
      const row = r.body.find((x: { id: string }) => x.id === d.warning);
      expect(row).toMatchObject({ integrity: 'warning', productId: p1.id, productName: 'Line PLC', firmwareVersion: '1.0.0', lastAttestationStatus: 'warning', affirmedAt: null, evidenced: FR([1, 2, 2, 1, 2, 2, 2]), belowTarget: true });
      const empty = await s.api.get('/api/v1/fleet/report?format=json', (await createTenant(s.api, 'operator')).key);
      expect(empty.body).toEqual([]);
    });

    it('is for operators and auditors; a bad format is a 400', async () => {
      expect((await s.api.get('/api/v1/fleet/report?format=json', o1Auditor)).status).toBe(200);
      expect((await s.api.get('/api/v1/fleet/report?format=json', m.key)).status).toBe(403);
      const bad = await s.api.get('/api/v1/fleet/report?format=xml', o1.key);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/format must be csv or json/);
    });
  });

  describe('webhooks', () => {
    const hook = { url: 'https://ops.example.com/fleetguard', secret: 'a-long-enough-hmac-secret', events: ['attestation.failed', 'device.revoked'] };

    it('subscribes, lists without the secret, and deletes', async () => {
      const created = await s.api.post('/api/v1/webhooks', hook, o1.key);
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id: expect.any(String), url: hook.url, events: hook.events, createdAt: expect.any(String) });
      const list = await s.api.get('/api/v1/webhooks', o1.key);
      expect(list.body).toEqual([created.body]);
      expect(JSON.stringify(list.body)).not.toContain(hook.secret);
      expect((await s.api.get('/api/v1/webhooks', o1Auditor)).body).toHaveLength(1);
      expect((await s.api.get('/api/v1/webhooks', o2.key)).body).toEqual([]);
      // another tenant cannot delete it: 404
      expect((await s.api.request('DELETE', `/api/v1/webhooks/${created.body.id}`, { key: o2.key })).status).toBe(404);
      expect((await s.api.request('DELETE', `/api/v1/webhooks/${created.body.id}`, { key: o1.key })).status).toBe(204);
      expect((await s.api.get('/api/v1/webhooks', o1.key)).body).toEqual([]);
      expect((await s.api.request('DELETE', `/api/v1/webhooks/${created.body.id}`, { key: o1.key })).status).toBe(404);
      const stored = await ds.query('SELECT secret FROM webhooks WHERE id = $1', [created.body.id]);
      expect(stored).toEqual([]);
    });

    it.each([
      [{ url: 'ftp://ops.example.com/x' }, /http or https/],
      [{ url: 'ops.example.com' }, /absolute http/],
      [{ url: 'https://u:p@ops.example.com/' }, /credentials/],
      [{ events: ['attestation.failed', 'coffee.ready'] }, /coffee\.ready/],
      [{ events: [] }, /at least one/],
      [{ events: 'attestation.failed' }, /events must be an array/],
      [{ secret: 'short' }, /secret must be 16\.\.200/],
      [{ extra: 1 }, /unknown properties are not accepted/],
    ])('refuses %j', async (over, message) => {
      const r = await s.api.post('/api/v1/webhooks', { ...hook, ...over }, o1.key);
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(message);
    });

    it('is for operators', async () => {
      expect((await s.api.post('/api/v1/webhooks', hook, m.key)).status).toBe(403);
      expect((await s.api.post('/api/v1/webhooks', hook, o1Auditor)).status).toBe(403);
    });
  });

  describe('paging 10,000 devices while devices are added', () => {
    it('returns every pre-existing device exactly once', async () => {
      const o3 = await createTenant(s.api, 'operator');
      await ds.query(
        `INSERT INTO devices (id, product_id, manufacturer_org_id, operator_org_id, key_type, public_key_spki)
         SELECT 'bulk-' || lpad(g::text, 5, '0'), $1, $2, $3, 'P-256', decode('00', 'hex') FROM generate_series(1, 10000) g`,
        [p1.id, m.orgId, o3.orgId],
      );
      const existing = new Set<string>((await ds.query('SELECT id FROM devices WHERE operator_org_id = $1', [o3.orgId])).map((r: { id: string }) => r.id));
      expect(existing.size).toBe(10_000);

      let adding = true;
      let added = 0;
      const adder = (async () => {
        while (adding) {
          await ds.query(
            `INSERT INTO devices (id, product_id, manufacturer_org_id, operator_org_id, key_type, public_key_spki)
             SELECT 'late-' || lpad(g::text, 6, '0'), $1, $2, $3, 'P-256', decode('00', 'hex') FROM generate_series($4::int, $5::int) g`,
            [p1.id, m.orgId, o3.orgId, added + 1, added + 20],
          );
          added += 20;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();

      const seen = new Map<string, number>();
      let cursor: string | null = null;
      let pages = 0;
      let addedDuringPaging = 0;
      try {
        do {
          const before = added;
          const r: any = await s.api.get(`/api/v1/devices?limit=500${cursor ? `&cursor=${cursor}` : ''}`, o3.key);
          expect(r.status).toBe(200);
          for (const item of r.body.items) seen.set(item.id, (seen.get(item.id) ?? 0) + 1);
          cursor = r.body.next;
          pages++;
          addedDuringPaging += added - before;
        } while (cursor && pages < 100);
      } finally {
        adding = false;
        await adder;
      }
      expect(addedDuringPaging).toBeGreaterThan(0);
      const duplicates = [...seen].filter(([, n]) => n > 1);
      expect(duplicates).toEqual([]);
      const missing = [...existing].filter((id) => !seen.has(id));
      expect(missing).toEqual([]);
      // whatever else came back was added meanwhile
      expect([...seen.keys()].filter((id) => !existing.has(id)).every((id) => id.startsWith('late-'))).toBe(true);

      // the report streams the whole lot (in keyset batches), header first
      const total = Number((await ds.query('SELECT count(*)::int AS n FROM devices WHERE operator_org_id = $1', [o3.orgId]))[0].n);
      const res = await fetch(`${s.urls.operator}/api/v1/fleet/report?format=csv`, { headers: { authorization: `Bearer ${o3.key}` } });
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const csv = await res.text();
      const lines = csv.split('\r\n').filter(Boolean);
      expect(lines).toHaveLength(total + 1);
      expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(total);
      const json = await s.api.get('/api/v1/fleet/report?format=json', o3.key);
      expect(json.body).toHaveLength(total);
    }, 120_000);
  });
});
