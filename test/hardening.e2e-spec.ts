import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import mqtt from 'mqtt';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { DataSource } from 'typeorm';
import { EventBusService } from '@fleetguard/events/nest';
import { type FleetEvent, type FleetEventType } from '@fleetguard/events';
import { hardenedReport, withFacts } from '@fleetguard/device-kit';
import { ADMIN_KEY, TestService, createProduct, createTenant, grantEnrollment, startTestService } from './support/service';
import { Workdir, opensslCsr } from './support/openssl';

/** The integrity items an EDR gets only from attestation (unknown while it has none). */
const ATTESTED_EDR = ['CR 3.4', 'CR 3.4 RE(1)', 'EDR 3.10', 'EDR 3.10 RE(1)', 'EDR 3.14', 'EDR 3.14 RE(1)'];
const TARGET = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 };
/** The factory's report, collected now (a report older than the maximum report age does not count). */
const COLLECTED_AT = new Date().toISOString();
const freshReport = () => ({ ...hardenedReport(), reportedAt: COLLECTED_AT });
const ALL = (n: number) => ({ FR1: n, FR2: n, FR3: n, FR4: n, FR5: n, FR6: n, FR7: n });

interface Enrolled {
  deviceId: string;
  keyPem: string;
  certPem: string;
}

interface Reply {
  status: number;
  body: any;
}

// The service's start and the tenants in beforeAll took over a minute on a machine at load 14 (CI beside other runs).
jest.setTimeout(120_000);

describe('hardening reports and SL-C scores', () => {
  let s: TestService;
  let w: Workdir;
  let ds: DataSource;
  let bus: EventBusService;
  let caPem: string;
  let mfr: { orgId: string; key: string };
  let op: { orgId: string; key: string };
  let productId: string;

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    ds = s.app.get(DataSource);
    bus = s.app.get(EventBusService);
    mfr = await createTenant(s.api, 'manufacturer');
    op = await createTenant(s.api, 'operator');
    productId = (
      await createProduct(s.api, mfr.key, { componentType: 'EDR', declaredRequirements: ['CR 1.5', ...ATTESTED_EDR], targetLevels: TARGET })
    ).id;
    const ca = await s.api.get('/pki/ca');
    expect(ca.status).toBe(200);
    caPem = ca.body;
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  /** node:https on the device listener, trusting the service's chain, with the device's client certificate if given. */
  function deviceRequest(method: string, path: string, opts: { device?: Enrolled; body?: string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(opts.body);
      }
      const req = https.request(
        new URL(path, s.urls.device),
        { method, ca: caPem, agent: false, headers, ...(opts.device ? { key: opts.device.keyPem, cert: opts.device.certPem } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              /* not JSON */
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** A real device: an enrollment token of the product (assigned to the operator), an openssl key and CSR, POST /enroll. */
  async function enrollDevice(): Promise<Enrolled> {
    const grantId = await grantEnrollment(s.api, op.key, mfr.orgId, { productId, maxDevices: 1 });
    const t = await s.api.post(`/api/v1/products/${productId}/enrollment-tokens`, { count: 1, expiresInSeconds: 600, grantId }, mfr.key);
    expect(t.status).toBe(201);
    const { key, csrPem } = opensslCsr(w, `dev-${Math.random().toString(36).slice(2)}`, 'P-256');
    const r = await deviceRequest('POST', '/enroll', { body: JSON.stringify({ token: t.body.tokens[0], csr: csrPem }) });
    expect(r.status).toBe(201);
    return { deviceId: r.body.deviceId, keyPem: fs.readFileSync(key, 'utf8'), certPem: r.body.certificate };
  }

  const report = (device: Enrolled, body: unknown) => deviceRequest('POST', '/devices/self/hardening', { device, body: JSON.stringify(body) });
  const score = (deviceId: string, key = op.key) => s.api.get(`/api/v1/devices/${deviceId}/score`, key);
  const item = (view: any, id: string) => view.items.find((i: any) => i.id === id);
  /** The next event of a type for a device (subscribed now); a test that fails first leaves no unhandled rejection behind. */
  function nextEvent(type: FleetEventType, deviceId: string, cause?: string): Promise<FleetEvent> {
    const next = firstValueFrom(
      bus.stream(null, [type]).pipe(
        filter((e) => e.deviceId === deviceId && (cause === undefined || (e.data as { cause?: string }).cause === cause)),
        timeout(10_000),
      ),
    );
    next.catch(() => undefined);
    return next;
  }
  const count = async (table: 'hardening_reports' | 'device_scores', deviceId: string): Promise<number> =>
    (await ds.query(`SELECT count(*)::int AS n FROM ${table} WHERE device_id = $1`, [deviceId]))[0].n;

  /** What the attestation service does on a result: the stored result, the device row (the attested firmware), then the event. */
  async function attestationResult(deviceId: string, status: 'affirming' | 'contraindicated' | 'warning', firmware = '2.4.1'): Promise<string> {
    const resultId = randomUUID();
    await ds.query(
      `INSERT INTO attestation_results (id, device_id, status, trust_vector, reasons, firmware_version, evidence, ear) VALUES ($1, $2, $3, '{}'::jsonb, '[]'::jsonb, $4, 'x', 'x')`,
      [resultId, deviceId, status, firmware],
    );
    await ds.query(
      `UPDATE devices SET attestation_status = $2::varchar, attestation_at = now(), affirmed_at = CASE WHEN $2::varchar = 'affirming' THEN now() ELSE affirmed_at END,
         firmware_version = CASE WHEN $2::varchar = 'affirming' THEN $3 ELSE firmware_version END WHERE id = $1`,
      [deviceId, status, firmware],
    );
    bus.publish('attestation.result', { deviceId, audience: [mfr.orgId, op.orgId], data: { status, reasons: [], resultId, at: new Date().toISOString() } });
    return resultId;
  }

  describe('a device reporting over the device HTTP API', () => {
    let dev: Enrolled;
    beforeAll(async () => {
      dev = await enrollDevice();
    });

    it('scores a device that has sent nothing on no facts: everything missing, no history', async () => {
      const r = await score(dev.deviceId);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        deviceId: dev.deviceId,
        componentType: 'EDR',
        catalogVersion: '2019-1.1',
        rulesVersion: 'fact-rules.v2',
        label: 'SL-C as configured',
        evidenced: { FR1: 0, FR2: 0, FR3: 0, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
        claimed: TARGET,
        target: TARGET,
        report: { counts: false, fallback: 'no-report' },
        belowTarget: true,
        attestation: { status: 'none', reported: null },
        reportedAt: null,
        history: [],
      });
      expect(r.body.items.length).toBeGreaterThan(50);
      expect(item(r.body, 'CR 1.1').status).toBe('missing');
      expect(item(r.body, 'CR 1.5')).toMatchObject({ status: 'declared', grade: 'declared' });
      expect(r.body.sl4Notes).toEqual(expect.objectContaining({ FR5: expect.stringContaining('first needed at SL 4') }));
    });

    it('a report without an affirming appraisal is stored, but only what the service observed counts', async () => {
      const changed = nextEvent('score.changed', dev.deviceId, 'report');
      const below = nextEvent('score.below-target', dev.deviceId);
      const r = await report(dev, freshReport());
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ accepted: true, evidenced: ALL(0), belowTarget: true });
      expect((await changed).data).toMatchObject({ evidenced: ALL(0), belowTarget: true, cause: 'report' });
      expect((await below).data).toMatchObject({ target: TARGET });

      const v = (await score(dev.deviceId)).body;
      expect(v.report).toEqual({ counts: false, fallback: 'attestation-not-affirming' });
      expect(v.reportedAt).toEqual(expect.any(String));
      expect(item(v, 'CR 1.1')).toMatchObject({ status: 'missing', grade: null, reason: expect.stringContaining('its report does not count') });
      // The device listener saw the client certificate and the TLS it negotiated: observed evidence.
      expect(item(v, 'CR 1.2')).toMatchObject({ status: 'evidenced', grade: 'observed', facts: [{ fact: 'observed.mutualTls', value: true }] });
      expect(item(v, 'CR 3.1')).toMatchObject({ status: 'evidenced', grade: 'observed' });
      expect(v.history).toHaveLength(1);
      expect(await count('hardening_reports', dev.deviceId)).toBe(1);
    });

    it('an affirming appraisal of the reported firmware makes the report count; the history keeps what each score rests on', async () => {
      const changed = nextEvent('score.changed', dev.deviceId, 'attestation');
      const resultId = await attestationResult(dev.deviceId, 'affirming');
      expect((await changed).data).toMatchObject({ evidenced: ALL(4), declared: ALL(4), belowTarget: false });
      const v = (await score(dev.deviceId)).body;
      expect(v.report).toEqual({ counts: true, fallback: null });
      expect(item(v, 'CR 1.1')).toMatchObject({ status: 'evidenced', grade: 'reported', rule: 'human-authentication', facts: [{ fact: 'authentication.required', value: true }] });
      expect(item(v, 'CR 3.4')).toMatchObject({ status: 'evidenced', grade: 'attested' });
      expect(item(v, 'CR 1.2').grade).toBe('observed');
      expect(v.gaps.FR3.items).toEqual([]);
      expect(v.history[0]).toMatchObject({
        cause: 'attestation',
        evidenced: ALL(4),
        attestationResultId: resultId,
        firmwareRelease: '2.4.1',
        rulesVersion: 'fact-rules.v2',
        catalogVersion: '2019-1.1',
        reportId: expect.any(String),
      });
      const d = await s.api.get(`/api/v1/devices/${dev.deviceId}`, op.key);
      expect(d.body.levels).toEqual({ evidenced: ALL(4), declared: ALL(4), belowTarget: false });

      // A report naming another firmware than the attested one falls back at once.
      const other = await report(dev, { ...freshReport(), firmwareVersion: '9.9.9' });
      expect(other.body.evidenced).toEqual(ALL(0));
      expect((await score(dev.deviceId)).body.report).toEqual({ counts: false, fallback: 'firmware-mismatch' });
    });

    it('refuses a report with an unknown field or a wrong type with 400 naming each problem, and stores nothing', async () => {
      const before = [await count('hardening_reports', dev.deviceId), await count('device_scores', dev.deviceId)];
      const bad = await report(dev, { ...withFacts(freshReport(), { 'secureBoot.enabled': 'yes' }), bogus: 1 });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ statusCode: 400, code: 'hardening.invalid-report' });
      expect(bad.body.message).toContain('report has an unknown field "bogus"');
      expect(bad.body.message).toContain('secureBoot.enabled must be a boolean');

      const noVersion = await report(dev, { secureBoot: { enabled: true } });
      expect(noVersion.status).toBe(400);
      expect(noVersion.body.message).toContain('missing the required field "schemaVersion"');

      const malformed = await deviceRequest('POST', '/devices/self/hardening', { device: dev, body: '{"schemaVersion": 1,' });
      expect(malformed.status).toBe(400);

      expect([await count('hardening_reports', dev.deviceId), await count('device_scores', dev.deviceId)]).toEqual(before);
    });

    it('needs the device client certificate, and answers only on the device listener', async () => {
      const anonymous = await deviceRequest('POST', '/devices/self/hardening', { body: JSON.stringify(freshReport()) });
      expect(anonymous.status).toBe(401);
      const onOperator = await s.api.post('/devices/self/hardening', freshReport());
      expect(onOperator.status).toBe(404);
    });

    it('a declared requirement contradicted by a fact is contradicted in both vectors, and the gaps name the fact', async () => {
      const r = await report(dev, withFacts(freshReport(), { defaultCredentialsChanged: false }));
      expect(r.status).toBe(202);
      expect(r.body.evidenced.FR1).toBe(0);
      expect(r.body.declared.FR1).toBe(0);

      const v = (await score(dev.deviceId)).body;
      expect(item(v, 'CR 1.5')).toMatchObject({
        status: 'contradicted',
        reason: expect.stringContaining('factory default credentials are still in use'),
        facts: [{ fact: 'defaultCredentialsChanged', value: false }],
      });
      for (const gaps of [v.gaps, v.gapsDeclared]) {
        expect(gaps.FR1).toMatchObject({ target: 2, achieved: 0 });
        expect(gaps.FR1.items).toEqual([
          expect.objectContaining({ id: 'CR 1.5', status: 'contradicted', facts: [{ fact: 'defaultCredentialsChanged', value: false }] }),
        ]);
      }
    });

    it('keeps the history of the scores, newest first', async () => {
      const before = (await score(dev.deviceId)).body.history.length;
      expect((await report(dev, freshReport())).status).toBe(202);
      const v = (await score(dev.deviceId)).body;
      expect(v.history).toHaveLength(before + 1);
      expect(v.history[0]).toMatchObject({ evidenced: { FR1: 4 }, cause: 'report' });
      expect(v.history[1]).toMatchObject({ evidenced: { FR1: 0 }, cause: 'report' });
      expect(Date.parse(v.history[0].at)).toBeGreaterThanOrEqual(Date.parse(v.history[1].at));
    });

    it('shows the score to the manufacturer, the assigned operator and its auditor; 404 to other tenants', async () => {
      expect((await score(dev.deviceId, mfr.key)).status).toBe(200);
      const auditor = await createTenantKey(op.orgId, ['auditor']);
      expect((await score(dev.deviceId, auditor)).status).toBe(200);
      for (const kind of ['manufacturer', 'operator'] as const) {
        const other = await createTenant(s.api, kind);
        const r = await score(dev.deviceId, other.key);
        expect(r.status).toBe(404);
        expect(r.body.message).not.toContain('evidenced');
      }
      expect((await score('no-such-device')).status).toBe(404);
      expect((await score('bad id!')).status).toBe(400);
      expect((await s.api.get(`/api/v1/devices/${dev.deviceId}/score`)).status).toBe(401);
    });
  });

  describe('attestation feeds the integrity requirements', () => {
    let dev: Enrolled;
    beforeAll(async () => {
      dev = await enrollDevice();
      expect((await report(dev, freshReport())).status).toBe(202);
    });

    async function resultAndRescore(status: 'affirming' | 'contraindicated') {
      const changed = nextEvent('score.changed', dev.deviceId, 'attestation');
      await attestationResult(dev.deviceId, status);
      return (await changed).data as { evidenced: Record<string, number>; declared: Record<string, number>; belowTarget: boolean; cause: string };
    }

    it('an affirming result evidences CR 3.4 and EDR 3.14 and brings the device to its target', async () => {
      const data = await resultAndRescore('affirming');
      expect(data).toMatchObject({ evidenced: { FR3: 4 }, belowTarget: false, cause: 'attestation' });
      const v = (await score(dev.deviceId)).body;
      expect(v.attestation).toMatchObject({ status: 'affirming', reported: 'affirming' });
      expect(item(v, 'CR 3.4').status).toBe('evidenced');
      expect(item(v, 'EDR 3.14').status).toBe('evidenced');
      expect(v.belowTarget).toBe(false);
      expect(v.history[0]).toMatchObject({ cause: 'attestation', belowTarget: false });
    });

    it('a contraindicated result contradicts them, even though declared: FR3 drops in both vectors', async () => {
      const below = nextEvent('score.below-target', dev.deviceId);
      const data = await resultAndRescore('contraindicated');
      // The reported facts fall back in every FR; the declared integrity items are contradicted.
      expect(data).toMatchObject({ evidenced: ALL(0), declared: { FR3: 0 }, belowTarget: true });
      expect((await below).data).toMatchObject({ below: ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] });
      const v = (await score(dev.deviceId)).body;
      expect(v.attestation.status).toBe('contraindicated');
      for (const id of ['CR 3.4', 'EDR 3.14', 'EDR 3.10']) {
        expect(item(v, id)).toMatchObject({ status: 'contradicted', facts: [{ fact: 'attestation.status', value: 'contraindicated' }] });
      }
      expect(v.gapsDeclared.FR3.items.map((g: any) => g.id)).toEqual(expect.arrayContaining(['CR 3.4', 'EDR 3.14']));
      const d = await s.api.get(`/api/v1/devices/${dev.deviceId}`, op.key);
      expect(d.body.levels.evidenced.FR3).toBe(0);
    });

    it('a fresh affirming result restores them', async () => {
      const data = await resultAndRescore('affirming');
      expect(data).toMatchObject({ evidenced: { FR3: 4 }, declared: { FR3: 4 }, belowTarget: false });
      expect(item((await score(dev.deviceId)).body, 'CR 3.4').status).toBe('evidenced');
    });

    it('an affirmation older than twice the attestation interval is stale and contradicts them too', async () => {
      const old = new Date(Date.now() - 3 * s.config.attestIntervalSeconds * 1000);
      await ds.query(`UPDATE devices SET affirmed_at = $2, attestation_at = $2 WHERE id = $1`, [dev.deviceId, old]);
      const v = (await score(dev.deviceId)).body;
      expect(v.attestation).toMatchObject({ status: 'stale', reported: 'affirming' });
      expect(item(v, 'CR 3.4')).toMatchObject({ status: 'contradicted', facts: [{ fact: 'attestation.status', value: 'stale' }] });
      expect(v.evidenced.FR3).toBe(0);

      // The stored levels follow when the attestation service says the device went stale.
      const changed = nextEvent('score.changed', dev.deviceId);
      bus.publish('attestation.stale', { deviceId: dev.deviceId, audience: [mfr.orgId, op.orgId], data: { status: 'stale', lastAffirmedAt: old.toISOString() } });
      expect((await changed).data).toMatchObject({ evidenced: { FR3: 0 }, cause: 'attestation-stale' });
    });

    it('an attestation result event newer than the device row is scored as the event says', async () => {
      const changed = nextEvent('score.changed', dev.deviceId, 'attestation');
      bus.publish('attestation.result', { deviceId: dev.deviceId, audience: [mfr.orgId, op.orgId], data: { status: 'affirming', reasons: [], resultId: randomUUID(), at: new Date().toISOString() } });
      expect((await changed).data).toMatchObject({ evidenced: { FR3: 4 } });
    });
  });

  describe('a device reporting over MQTT', () => {
    it('acknowledges a stored report and scores it; answers a refused one on the result topic, storing nothing', async () => {
      const dev = await enrollDevice();
      const attested = nextEvent('score.changed', dev.deviceId, 'attestation');
      await attestationResult(dev.deviceId, 'affirming');
      await attested;
      const client = await mqtt.connectAsync(s.urls.mqtt, { clientId: dev.deviceId, key: dev.keyPem, cert: dev.certPem, ca: caPem, reconnectPeriod: 0, connectTimeout: 10_000 });
      try {
        const topic = `fleet/v1/devices/${dev.deviceId}`;
        await client.subscribeAsync(`${topic}/result`, { qos: 1 });
        // The broker recorded what the connection negotiated (TLS 1.3, an AEAD suite, the client
        // certificate), and queued the rescore that follows a new observation. Waited for before
        // the report: a slow observation rescored after the report was stored took the report's
        // change (cause 'observation'), and the report's own rescore then had nothing to publish.
        let seen: any[] = [];
        for (let i = 0; i < 50 && !seen.length; i++) {
          seen = await ds.query(`SELECT tls_versions, ciphers, mutual_tls_at FROM device_observations WHERE device_id = $1 AND tls_versions ? '1.3'`, [dev.deviceId]);
          if (!seen.length) await new Promise((r) => setTimeout(r, 100));
        }
        expect(seen[0]).toMatchObject({ tls_versions: ['1.3'], ciphers: [expect.stringMatching(/^TLS_(AES|CHACHA20)_/)], mutual_tls_at: expect.any(Date) });
        const changed = nextEvent('score.changed', dev.deviceId, 'report');
        await client.publishAsync(`${topic}/hardening`, JSON.stringify(freshReport()), { qos: 1 }); // resolves on PUBACK
        expect(await count('hardening_reports', dev.deviceId)).toBe(1);
        expect((await changed).data).toMatchObject({ evidenced: { FR1: 4 }, cause: 'report' });
        expect(item((await score(dev.deviceId)).body, 'CR 3.1 RE(1)')).toMatchObject({ status: 'evidenced', grade: 'observed' });
        // The attestation scored first (no report yet), then the report.
        expect((await score(dev.deviceId)).body.history.map((h: any) => h.cause)).toEqual(['report', 'attestation']);

        // The same report again (as a QoS 1 redelivery would bring it) is acknowledged, not stored twice.
        await client.publishAsync(`${topic}/hardening`, JSON.stringify(freshReport()), { qos: 1 });
        expect(await count('hardening_reports', dev.deviceId)).toBe(1);

        const answer = new Promise<any>((resolve) => client.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));
        await client.publishAsync(`${topic}/hardening`, JSON.stringify({ schemaVersion: 1, telnet: true }), { qos: 1 });
        expect((await answer).error).toMatchObject({ code: 'hardening.invalid-report', topic: 'hardening', message: expect.stringContaining('unknown field "telnet"') });
        expect(await count('hardening_reports', dev.deviceId)).toBe(1);
      } finally {
        await client.endAsync();
      }
    });
  });

  describe('the product statement of applicability', () => {
    it('the manufacturer declares items not applicable with a justification; the devices are rescored; others get 404', async () => {
      const dev = await enrollDevice();
      expect((await report(dev, withFacts(freshReport(), { wireless: undefined }))).status).toBe(202);
      const put = (body: unknown, key = mfr.key) => s.api.request('PUT', `/api/v1/products/${productId}/applicability`, { body, key });
      const ok = await put([{ requirement: 'CR 2.2', applicable: false, justification: 'the device has no radio' }]);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ productId, applicability: [{ requirement: 'CR 2.2', applicable: false, justification: 'the device has no radio' }] });
      expect(ok.body.devicesRescored).toBeGreaterThanOrEqual(1);
      const v = (await score(dev.deviceId)).body;
      expect(item(v, 'CR 2.2')).toMatchObject({ status: 'not-applicable', grade: 'declared', reason: expect.stringContaining('the device has no radio') });
      expect((await s.api.get(`/api/v1/products/${productId}/applicability`, op.key)).body.applicability).toHaveLength(1);

      const unconditional = await put([{ requirement: 'CR 1.1', applicable: false, justification: 'no users' }]);
      expect(unconditional).toMatchObject({ status: 400, body: { code: 'hardening.invalid-applicability', message: expect.stringContaining('CR 1.1 applies to every EDR component') } });
      expect((await put({ requirement: 'CR 2.2' })).status).toBe(400);
      expect((await put([{ requirement: 'CR 2.2', applicable: false, justification: 'x', extra: 1 }])).status).toBe(400);
      expect((await put([], op.key)).status).toBe(403);
      expect((await put([], (await createTenant(s.api, 'manufacturer')).key)).status).toBe(404);
      expect((await put([])).status).toBe(200);
    });
  });

  describe('the catalog', () => {
    it('serves the catalog in use to any key, uncertain entries with their notes', async () => {
      const r = await s.api.get('/api/v1/catalog', op.key);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ version: '2019-1.1', standard: 'IEC 62443-4-2:2019', rulesVersion: 'fact-rules.v2' });
      expect(r.body.items.length).toBeGreaterThan(50);
      const edr32 = r.body.items.find((e: any) => e.id === 'EDR 3.2');
      expect(edr32).toMatchObject({ uncertain: true, note: expect.stringMatching(/\w+/), sl: 1 });
      expect(r.body.uncertain.length).toBeGreaterThan(0);
      expect(r.body.uncertain).toContainEqual({ id: 'EDR 3.2', note: edr32.note });
      const flattened = [...r.body.items, ...r.body.items.flatMap((e: any) => e.enhancements)];
      for (const e of flattened.filter((x: any) => x.uncertain)) expect(e.note).toEqual(expect.stringMatching(/\w+/));

      for (const key of [mfr.key, ADMIN_KEY, await createTenantKey(op.orgId, ['auditor'])]) {
        expect((await s.api.get('/api/v1/catalog', key)).status).toBe(200);
      }
      expect((await s.api.get('/api/v1/catalog')).status).toBe(401);
    });

    it('lists the items a component type is scored on, and refuses an unknown type', async () => {
      const r = await s.api.get('/api/v1/catalog?componentType=EDR', op.key);
      expect(r.status).toBe(200);
      const ids = r.body.applicable.map((i: any) => i.id);
      expect(ids).toEqual(expect.arrayContaining(['CR 1.1', 'EDR 3.14']));
      expect(ids).not.toContain('NDR 1.6');
      expect(r.body.applicable.find((i: any) => i.id === 'EDR 3.2')).toMatchObject({ uncertain: true, note: expect.any(String) });
      const bad = await s.api.get('/api/v1/catalog?componentType=PLC', op.key);
      expect(bad.status).toBe(400);
    });

    it('marks uncertain items in a device score with their note', async () => {
      const dev = await enrollDevice();
      const v = (await score(dev.deviceId)).body;
      expect(item(v, 'EDR 3.2')).toMatchObject({ uncertain: true, note: expect.stringMatching(/\w+/) });
    });
  });

  describe('rescoring the fleet', () => {
    it('rescores every active device in batches (admin only) and leaves unchanged scores alone', async () => {
      const forbidden = await s.api.post('/api/v1/scores/rescore', {}, op.key);
      expect(forbidden.status).toBe(403);
      const first = await s.api.post('/api/v1/scores/rescore', {}, ADMIN_KEY);
      expect(first.status).toBe(200);
      const devices = (await ds.query(`SELECT count(*)::int AS n FROM devices WHERE status = 'active'`))[0].n;
      expect(first.body).toMatchObject({ devices, batches: 1 });
      // Everything is scored now; a second run finds nothing to change or record.
      const second = await s.api.post('/api/v1/scores/rescore', {}, ADMIN_KEY);
      expect(second.body).toMatchObject({ devices, changed: 0, written: 0 });
      const unscored = await ds.query(`SELECT count(*)::int AS n FROM devices WHERE status = 'active' AND sl_evidenced IS NULL`);
      expect(unscored[0].n).toBe(0);
    });
  });

  async function createTenantKey(organizationId: string, roles: string[]): Promise<string> {
    const r = await s.api.post('/api/v1/api-keys', { organizationId, roles }, ADMIN_KEY);
    expect(r.status).toBe(201);
    return r.body.key;
  }
});
