import { SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { DeviceDirectoryReader } from '@fleetguard/fleet/nest';
import { DataSource } from 'typeorm';
import { AppraisalPortsFactory, JwsCryptoService, type InboxJob } from '@fleetguard/attestation/nest';
import { TestService, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(120_000);

/**
 * The early look (issue 17, latency): evidence's device, signature check and nonce row are looked
 * up while its inbox row is being inserted, and the appraisal uses them instead of asking again;
 * a look older than two seconds is not used, and a revocation in between is still seen.
 * On the real service (PGlite, or PostgreSQL with FLEETGUARD_TEST_PG), spying on its own parts.
 */
describe('appraisal: the look-ups made while evidence is recorded', () => {
  let s: TestService;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let ports: AppraisalPortsFactory;
  let directory: DeviceDirectoryReader;
  let crypto: JwsCryptoService;
  let ds: DataSource;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    fixture = await productWithRelease(s.api);
    ports = s.app.get(AppraisalPortsFactory);
    directory = s.app.get(DeviceDirectoryReader);
    crypto = s.app.get(JwsCryptoService);
    ds = s.app.get(DataSource);
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });
  afterEach(() => jest.restoreAllMocks());

  async function device(): Promise<SimulatedDevice> {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, behaviour: 'good', reconnectPeriodMs: 0, hardening: false });
    devices.push(d);
    await d.enroll();
    return d;
  }

  /** Evidence over a nonce the service issued to `d` (POST /attestation/challenge), not sent. */
  async function evidenceOf(d: SimulatedDevice): Promise<string> {
    const api = (d as unknown as { deviceApi(): { challenge(): Promise<{ nonce: string }> } }).deviceApi();
    return (await d.buildEvidence((await api.challenge()).nonce)).evidence;
  }

  /** The nonce the evidence names (its unverified payload). */
  const nonceOf = (evidence: string) => JSON.parse(Buffer.from(evidence.split('.')[1], 'base64url').toString()).eat_nonce as string;
  const job = (deviceId: string, evidence: string): InboxJob => ({ inboxId: '00000000-0000-4000-8000-000000000000', deviceId, evidence, channel: 'http', receivedAt: new Date(), attempts: 1 });

  it('an HTTP appraisal looks its device up and checks its signature once, before the row is recorded, and is affirming', async () => {
    const d = await device();
    const keys = jest.spyOn(directory, 'deviceKeys');
    const verify = jest.spyOn(crypto, 'verify');
    const ear = await d.attestOverHttp();
    expect(summarizeEar(ear).status).toBe('affirming');
    expect(keys.mock.calls.filter(([ids]) => ids.includes(d.deviceId))).toHaveLength(1);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('the appraisal takes the device, the verification and the nonce row of the look (no second look-up)', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    const look = ports.lookEarly(d.deviceId, evidence);
    await look.verification;
    await look.nonce!.row;
    const keys = jest.spyOn(directory, 'deviceKeys');
    const verify = jest.spyOn(crypto, 'verify');
    const j = job(d.deviceId, evidence);
    ports.attach(j, look);
    const p = ports.forJob(j);
    const found = await p.findDevice(d.deviceId);
    expect(found).toMatchObject({ deviceId: d.deviceId, certificateStatus: 'valid' });
    const v = await p.crypto!.verify(evidence, found!.publicKey as never, ['ES256']);
    expect(v.ok).toBe(true);
    expect(await p.peekNonce!(d.deviceId, nonceOf(evidence))).toBe('ok');
    expect(keys).not.toHaveBeenCalled();
    expect(verify).not.toHaveBeenCalled();
    // A second appraisal of the same job (a lost nonce race, a retry) looks again.
    await ports.forJob(j).findDevice(d.deviceId);
    expect(keys).toHaveBeenCalledTimes(1);
  });

  it('a look older than two seconds is not used: the device is looked up again', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    const look = ports.lookEarly(d.deviceId, evidence);
    await look.verification;
    look.at -= 2500;
    const keys = jest.spyOn(directory, 'deviceKeys');
    const j = job(d.deviceId, evidence);
    ports.attach(j, look);
    await ports.forJob(j).findDevice(d.deviceId);
    expect(keys).toHaveBeenCalledTimes(1);
  });

  it('a certificate revoked after the look is revoked for the appraisal (its status is judged when the appraisal runs)', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    const look = ports.lookEarly(d.deviceId, evidence);
    await look.verification;
    expect((await s.api.post(`/api/v1/devices/${d.deviceId}/revoke`, { reason: 'keyCompromise' }, fixture.manufacturer.key)).status).toBe(200);
    const j = job(d.deviceId, evidence);
    ports.attach(j, look);
    expect(await ports.forJob(j).findDevice(d.deviceId)).toMatchObject({ certificateStatus: 'revoked' });
  });

  it('a look for other evidence or another device is not attached', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    const look = ports.lookEarly(d.deviceId, evidence);
    await look.verification;
    const keys = jest.spyOn(directory, 'deviceKeys');
    const other = job(d.deviceId, `${evidence.slice(0, -2)}AA`);
    ports.attach(other, look);
    await ports.forJob(other).findDevice(d.deviceId);
    expect(keys).toHaveBeenCalledTimes(1);
  });

  /** The statements that read nonce rows, from now on. */
  const nonceReads = () => {
    const spy = jest.spyOn(ds, 'query');
    return () => spy.mock.calls.filter(([q]) => /FROM nonces WHERE/.test(String(q))).length;
  };
  const deviceApi = (d: SimulatedDevice) => (d as unknown as { deviceApi(): { evidence(e: string): Promise<string> } }).deviceApi();

  it('the nonce row of a nonce this instance issued comes from its memory of it, without a statement', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    const reads = nonceReads();
    const look = ports.lookEarly(d.deviceId, evidence);
    expect(await look.nonce!.row).toMatchObject({ nonce: nonceOf(evidence), device_id: d.deviceId, used_at: null });
    expect(reads()).toBe(0);
    const j = job(d.deviceId, evidence);
    ports.attach(j, look);
    expect(await ports.forJob(j).peekNonce!(d.deviceId, nonceOf(evidence))).toBe('ok');
    // For another device it is not this device's nonce, as the stored row would say.
    expect(await ports.forJob(job('someone-else', evidence)).peekNonce!('someone-else', nonceOf(evidence))).toBe('unknown');
  });

  it('a nonce used behind the back of the instance that issued it (by another instance) is judged replayed, not affirming', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    // What another instance's commit of other evidence with this nonce leaves in the database.
    await ds.query('UPDATE nonces SET used_at = now() WHERE nonce = $1', [nonceOf(evidence)]);
    const ear = summarizeEar(await deviceApi(d).evidence(evidence));
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons.join(' ')).toMatch(/already used/);
  });

  it('once a result with the nonce is committed, evidence naming it again reads the stored row and is judged replayed', async () => {
    const d = await device();
    const evidence = await evidenceOf(d);
    expect(summarizeEar(await deviceApi(d).evidence(evidence)).status).toBe('affirming');
    const reads = nonceReads();
    const look = ports.lookEarly(d.deviceId, evidence);
    expect((await look.nonce!.row)?.used_at).toBeTruthy();
    expect(reads()).toBe(1);
  });
});
