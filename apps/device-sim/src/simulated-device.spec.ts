import { X509Certificate } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SwtpmDriver } from '@fleetguard/device-kit';
import { BrokerService } from '@fleetguard/broker/nest';
import { productWithRelease } from '../../../test/support/fleet-fixture';
import { TestService, createTenant, startTestService } from '../../../test/support/service';
import { DeviceApiError } from './device-api.client';
import { summarizeEar } from './ear-result.decoder';
import { DeviceBehaviour } from './evidence.behaviour';
import { weakHardeningReport } from '@fleetguard/device-kit';
import { SimulatedDevice, SimulatedDeviceOptions } from './simulated-device';

jest.setTimeout(120_000);

/** Polls until `check` holds (or the time is up); the caller asserts afterwards. */
async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

describe('SimulatedDevice against the Fleetguard service', () => {
  let s: TestService;
  let ds: DataSource;
  let broker: BrokerService;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    // No periodic re-challenge during a test: every challenge is the one on connect or one a test asks for.
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    ds = s.app.get(DataSource);
    broker = s.app.get(BrokerService);
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await s?.stop();
  });

  function options(token: string, extra: Partial<SimulatedDeviceOptions> = {}): SimulatedDeviceOptions {
    return { operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, ...extra };
  }

  /** A device of the fixture's product with a fresh enrollment token from the service; closed after the test. */
  async function device(extra: Partial<SimulatedDeviceOptions> = {}): Promise<SimulatedDevice> {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice(options(token, extra));
    devices.push(d);
    return d;
  }

  /** The service's attestation history of a device, newest first. */
  async function attestations(deviceId: string): Promise<any[]> {
    const r = await s.api.get(`/api/v1/devices/${deviceId}/attestations`, operator.key);
    expect(r.status).toBe(200);
    return r.body.items;
  }

  async function storedReports(deviceId: string): Promise<Array<{ report: any; channel: string }>> {
    return ds.query('SELECT report, channel FROM hardening_reports WHERE device_id = $1 ORDER BY received_at', [deviceId]);
  }

  async function lastSeenAt(deviceId: string): Promise<number | null> {
    const [row] = await ds.query('SELECT last_seen_at FROM devices WHERE id = $1', [deviceId]);
    return row?.last_seen_at ? new Date(row.last_seen_at).getTime() : null;
  }

  it('enrolls over HTTPS (CA chain from /pki/ca), gets a certificate with CN = deviceId for its own key', async () => {
    const d = await device();
    expect(d.isEnrolled).toBe(false);
    expect(() => d.deviceId).toThrow(/not enrolled/);
    const r = await d.enroll();
    expect(d.deviceId).toBe(r.deviceId);
    const cert = new X509Certificate(d.certificatePem);
    expect(cert.subject).toBe(`CN=${d.deviceId}`);
    expect(cert.publicKey.equals(d.privateKey)).toBe(false); // one is private...
    expect(cert.checkPrivateKey(d.privateKey)).toBe(true); // ...and they belong together
    const chain = (d.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
    expect(chain.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))).toBe(true); // issued by the service's CA
    const view = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id: d.deviceId, productId: fixture.product.id, operatorId: operator.orgId, status: 'active', keyType: 'P-256', hasAttestationKey: false });
    expect(view.body.certificate.serial.toLowerCase()).toBe(cert.serialNumber.toLowerCase());
    expect(d.metrics.enrollMs).toBeGreaterThan(0);
    await expect(d.enroll()).rejects.toThrow(/already enrolled/);
  });

  it('a used token is refused with the service message', async () => {
    const [token] = await fixture.tokens(1);
    const first = new SimulatedDevice(options(token));
    const second = new SimulatedDevice(options(token));
    devices.push(first, second);
    await first.enroll();
    const err = await second.enroll().catch((e) => e);
    expect(err).toBeInstanceOf(DeviceApiError);
    expect(err).toMatchObject({ status: 409 });
    expect(err.message).toMatch(/POST \/enroll failed with HTTP 409: the enrollment token was used already/);
    expect(second.isEnrolled).toBe(false);
  });

  it('connects with mutual TLS, answers the challenge sent on connect, records the EAR, reports hardening and status', async () => {
    const d = await device();
    await d.enroll();
    expect(await lastSeenAt(d.deviceId)).toBeNull();
    const seen: string[] = [];
    d.on('challenge', () => seen.push('challenge'));
    d.on('evidence', (e) => seen.push(`evidence:${e.transport}`));
    d.on('result', (_ear, summary) => seen.push(`result:${summary.status}`));
    await d.connect();
    expect(d.isConnected).toBe(true);
    expect(broker.isConnected(d.deviceId)).toBe(true);
    const ear = await d.waitForResult(30_000, { since: 0 });
    expect(summarizeEar(ear)).toMatchObject({ status: 'affirming', reasons: [], deviceId: d.deviceId });
    expect(d.results).toEqual([ear]);
    expect(d.lastResult()).toBe(ear);
    expect(d.lastResultSummary()?.status).toBe('affirming');
    expect(seen).toEqual(['challenge', 'evidence:mqtt', 'result:affirming']);
    expect(d.metrics).toMatchObject({ challengesReceived: 1, evidenceSent: 1 });
    expect(d.metrics.resultLatencyMs).toHaveLength(1);

    // What the service recorded: the result it sent, the report (acknowledged once stored), the status.
    const history = await attestations(d.deviceId);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ status: 'affirming', reasons: [], firmwareVersion: fixture.profile.fw.version, ear });
    const reports = await storedReports(d.deviceId);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ channel: 'mqtt', report: { schemaVersion: 1, firmwareVersion: fixture.profile.fw.version, secureBoot: { enabled: true } } });
    const score = await s.api.get(`/api/v1/devices/${d.deviceId}/score`, operator.key);
    expect(score.status).toBe(200);
    expect(score.body.reportedAt).not.toBeNull();
    expect(Object.keys(score.body.evidenced).sort()).toEqual(['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7']);
    expect(Object.keys(score.body.declared).sort()).toEqual(['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7']);
    expect(await lastSeenAt(d.deviceId)).not.toBeNull();

    // The next challenge, asked for by the operator: waitForResult resolves the next EAR.
    const next = d.waitForResult(30_000);
    const r = await s.api.post(`/api/v1/devices/${d.deviceId}/attest`, {}, operator.key);
    expect(r.status).toBe(202);
    expect(summarizeEar(await next).status).toBe('affirming');
    expect(d.results).toHaveLength(2);
    expect((await attestations(d.deviceId)).map((a) => a.ear)).toEqual([d.results[1], d.results[0]]);
    expect(d.errors).toEqual([]);
  });

  it.each<[DeviceBehaviour, string, RegExp | null]>([
    ['tampered-component', 'contraindicated', /component 'kernel' in PCR 4 measured/],
    ['wrong-nonce', 'contraindicated', /nonce was not issued/],
    ['rollback', 'contraindicated', /security counter 4, below the product minimum 5/],
    ['wrong-key', 'contraindicated', /enrolled key of device/],
    ['weak-config', 'affirming', null],
  ])('%s: the service answers %s', async (behaviour, status, reason) => {
    const d = await device({ behaviour });
    await d.enroll();
    await d.connect();
    const summary = summarizeEar(await d.waitForResult(30_000, { since: 0 }));
    expect(summary.status).toBe(status);
    if (reason) expect(summary.reasons.join('\n')).toMatch(reason);
    else expect(summary.reasons).toEqual([]);
    const [stored] = await attestations(d.deviceId);
    expect(stored).toMatchObject({ status, reasons: summary.reasons, ear: d.lastResult() });
    const reports = await storedReports(d.deviceId);
    expect(reports).toHaveLength(1);
    if (behaviour === 'weak-config') {
      expect(reports[0].report).toMatchObject({ secureBoot: { enabled: false }, defaultCredentialsChanged: false });
    }
  });

  it('silent: receives challenges and never answers', async () => {
    const d = await device({ behaviour: 'silent' });
    await d.enroll();
    const challenged = new Promise((resolve) => d.once('challenge', resolve));
    await d.connect();
    await challenged;
    await expect(d.waitForResult(300)).rejects.toThrow(/\(silent\): no attestation result within 300 ms/);
    expect(d.metrics).toMatchObject({ challengesReceived: 1, evidenceSent: 0 });
    expect(await attestations(d.deviceId)).toEqual([]);
  });

  it('attests over HTTPS with the client certificate; reports hardening over HTTPS', async () => {
    const d = await device({ hardening: false });
    await d.enroll();
    const ear = await d.attestOverHttp();
    expect(summarizeEar(ear)).toMatchObject({ status: 'affirming', deviceId: d.deviceId });
    expect(d.results).toEqual([ear]);
    expect(await attestations(d.deviceId)).toEqual([expect.objectContaining({ status: 'affirming', ear })]);
    const answer = await d.reportHardeningOverHttp(weakHardeningReport());
    expect(answer).toMatchObject({ accepted: true, reportId: expect.any(String) });
    expect(await storedReports(d.deviceId)).toEqual([expect.objectContaining({ channel: 'http', report: expect.objectContaining({ usesPki: false }) })]);
    await expect(d.reportHardeningOverHttp({ schemaVersion: 1, bogus: true })).rejects.toThrow(/HTTP 400: invalid hardening report: .*unknown field "bogus"/);
    expect(await storedReports(d.deviceId)).toHaveLength(1);
  });

  it('reportHardening publishes with QoS 1 and resolves on the PUBACK', async () => {
    const d = await device({ hardening: false, behaviour: 'silent' });
    await d.enroll();
    await d.connect();
    expect(await storedReports(d.deviceId)).toEqual([]);
    await d.reportHardening(weakHardeningReport({ firmwareVersion: fixture.profile.fw.version }));
    // The service acknowledges a report only once it is stored: no waiting needed here.
    expect(await storedReports(d.deviceId)).toEqual([{ channel: 'mqtt', report: expect.objectContaining({ firmwareVersion: fixture.profile.fw.version, usesPki: false }) }]);
    const score = await s.api.get(`/api/v1/devices/${d.deviceId}/score`, operator.key);
    expect(score.status).toBe(200);
    expect(score.body.reportedAt).not.toBeNull();
    expect(d.errors).toEqual([]);
  });

  it.each([['P-384'], ['Ed25519'], ['RSA-2048']] as const)('a %s device enrolls, connects and is affirmed', async (keyType) => {
    const d = await device({ keyType, hardening: false });
    await d.enroll();
    await d.connect();
    expect(summarizeEar(await d.waitForResult(30_000, { since: 0 })).status).toBe('affirming');
    const view = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
    expect(view.body.attestation.status).toBe('affirming');
  });

  it('with a software TPM: sends the AK at enrollment and a quote with the evidence', async () => {
    const d = await device({ tpm: { mode: 'software' }, hardening: false });
    await d.enroll();
    const [row] = await ds.query('SELECT ak_public_key FROM devices WHERE id = $1', [d.deviceId]);
    expect(row.ak_public_key).toBe(d.akPublicKeyPem);
    expect((await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key)).body.hasAttestationKey).toBe(true);
    await d.connect();
    expect(summarizeEar(await d.waitForResult(30_000, { since: 0 })).status).toBe('affirming');
    const [stored] = await attestations(d.deviceId);
    expect(stored.claims?.tpm).toEqual({ present: true, quotedPcrs: [0, 2, 4, 7] });
  });

  const swtpm = SwtpmDriver.isAvailable() ? it : it.skip;
  swtpm('with swtpm: a real TPM quote, AK from tpm2_createak; a tampered boot is caught by reference values, not by the quote', async () => {
    for (const [behaviour, status] of [['good', 'affirming'], ['tampered-component', 'contraindicated']] as const) {
      const d = await device({ tpm: { mode: 'swtpm' }, behaviour, hardening: false });
      await d.enroll();
      expect(d.akPublicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
      expect((await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key)).body.hasAttestationKey).toBe(true);
      await d.connect();
      expect(summarizeEar(await d.waitForResult(30_000, { since: 0 })).status).toBe(status);
      const [stored] = await attestations(d.deviceId);
      expect(stored.status).toBe(status);
      expect(stored.claims?.tpm).toEqual({ present: true, quotedPcrs: [0, 2, 4, 7] });
      expect(stored.findings.map((f: { code: string }) => f.code)).toEqual(behaviour === 'good' ? [] : ['component-digest-mismatch']);
      await d.close(); // stops its swtpm
    }
  });

  it('close() says offline, disconnects, frees everything, rejects waiters and is idempotent', async () => {
    const d = await device({ hardening: false, behaviour: 'silent' });
    await d.enroll();
    expect(await lastSeenAt(d.deviceId)).toBeNull();
    await d.connect();
    // A silent device without a report sends only its status: that is what marks it seen.
    const online = await lastSeenAt(d.deviceId);
    expect(online).not.toBeNull();
    expect(broker.isConnected(d.deviceId)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    const waiting = d.waitForResult(60_000).catch((e: Error) => e);
    const states: string[] = [];
    d.on('connection', (state) => states.push(state));
    await d.close();
    expect(await waiting).toEqual(expect.objectContaining({ message: expect.stringMatching(/was closed before a result arrived/) }));
    await d.close();
    expect(d.isConnected).toBe(false);
    expect(states).toEqual(['closed']);
    // The {online: false} status was acknowledged (so stored) before the disconnect.
    expect(await lastSeenAt(d.deviceId)).toBeGreaterThan(online!);
    await expect(d.connect()).rejects.toThrow(/closed/);
    await until(() => !broker.isConnected(d.deviceId));
    expect(broker.connectedDevices()).not.toContain(d.deviceId);
    expect(await attestations(d.deviceId)).toEqual([]);
  });

  it('fails clearly when the broker cannot be reached', async () => {
    const d = await device({ hardening: false, mqttUrl: s.urls.mqtt.replace(/:\d+$/, ':1') });
    await d.enroll();
    await expect(d.connect()).rejects.toThrow(/MQTT connection (failed|closed before CONNACK).*ECONNREFUSED/);
    expect(d.isConnected).toBe(false);
    expect(broker.isConnected(d.deviceId)).toBe(false);
  });

  it('refuses impossible options early', () => {
    // The constructor throws before any request: the token is never sent.
    const opts = (extra: Partial<SimulatedDeviceOptions>) => options('never-sent', extra);
    expect(() => new SimulatedDevice(opts({ behaviour: 'rollback', profile: { ...fixture.profile, rollbackFw: undefined, fw: { ...fixture.profile.fw, securityCounter: 0 } } }))).toThrow(/rollback needs/);
    expect(() => new SimulatedDevice(opts({ behaviour: 'nonsense' as DeviceBehaviour }))).toThrow(/unknown behaviour/);
    expect(() => new SimulatedDevice(opts({ behaviour: 'tampered-component', tamperComponent: 'bios' }))).toThrow(/'bios' is not a boot event/);
  });
});
