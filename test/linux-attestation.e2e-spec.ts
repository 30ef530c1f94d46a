import { createHash } from 'node:crypto';
import { EV, parseTcgEventLog } from '@fleetguard/attestation';
import { realEventLog, SwtpmDriver } from '@fleetguard/device-kit';
import { LinuxDeviceOption, SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { createTenant, startTestService, TestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(180_000);

/**
 * Linux devices end to end: a device boots a real TCG log into swtpm (every event's digests
 * extended in the sha1 and sha256 banks), quotes it, and attests over MQTT and HTTPS against a
 * golden state recorded through the API from the same log, a measured-boot policy and an IMA
 * runtime policy.
 */
const describeTpm = SwtpmDriver.isAvailable() ? describe : describe.skip;

describeTpm('Linux devices: TCG boot log + swtpm quote + IMA', () => {
  let s: TestService;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  const devices: SimulatedDevice[] = [];
  const ubuntu = realEventLog('ubuntu-qemu.bin');
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  const files = [['/usr/bin/gatewayd', sha('gatewayd 3.1')], ['/usr/lib/libmodbus.so.5', sha('libmodbus 3.1.10')], ['/usr/bin/bash', sha('bash 5.2')]] as const;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });

  const device = async (linux: Partial<LinuxDeviceOption> = {}) => {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, linux: { eventLog: ubuntu, tpm: 'swtpm', ...linux } });
    devices.push(d);
    await d.enroll();
    return d;
  };
  const m = () => fixture.manufacturer.key;
  const base = () => `/api/v1/products/${fixture.product.id}`;

  it('records the golden state from a raw log; refuses a broken log and a bad policy with a 4xx and the reason', async () => {
    const version = encodeURIComponent(fixture.profile.fw.version);
    const golden = await s.api.request('POST', `${base()}/firmware/${version}/reference-values/event-log`, { key: m(), raw: ubuntu, headers: { 'content-type': 'application/octet-stream' } });
    expect(golden.status).toBe(200);
    expect(golden.body).toMatchObject({ events: 105, banks: ['sha1', 'sha256'] });
    expect(golden.body.pcrs.sha256['4']).toMatch(/^[0-9a-f]{64}$/);

    const broken = await s.api.request('POST', `${base()}/firmware/${version}/reference-values/event-log`, { key: m(), raw: ubuntu.subarray(0, 3000), headers: { 'content-type': 'application/octet-stream' } });
    expect(broken.status).toBe(400);
    expect(broken.body.code ?? broken.body.error?.code).toBe('tcg-log-truncated');
    const badPolicy = await s.api.request('PUT', `${base()}/measured-boot-policy`, { key: m(), body: { secureBoot: 'sometimes' } });
    expect(badPolicy.status).toBe(400);
    const notMine = await s.api.request('PUT', `${base()}/runtime-policy`, { key: operator.key, body: { digests: {} } });
    expect([403, 404]).toContain(notMine.status);

    const policy = await s.api.request('PUT', `${base()}/measured-boot-policy`, { key: m(), body: { secureBoot: 'required' } });
    expect(policy.status).toBe(200);
    const runtime = await s.api.request('PUT', `${base()}/runtime-policy`, { key: m(), body: { meta: { version: 1 }, digests: Object.fromEntries(files.map(([p, d]) => [p, [d]])), excludes: ['boot_aggregate'] } });
    expect(runtime.status).toBe(200);
  });

  it('a device booting the golden log into swtpm and quoting it is affirming (over MQTT)', async () => {
    const d = await device();
    await d.connect();
    const ear = summarizeEar(await d.waitForResult(60_000, { since: 0 }));
    expect(ear.reasons).toEqual([]);
    expect(ear.status).toBe('affirming');
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items[0].claims.linux.tcgEventLog).toMatchObject({ events: 105, banks: ['sha1', 'sha256'] });
  });

  it('one altered event, measured as such, is contraindicated naming the event', async () => {
    const shim = parseTcgEventLog(ubuntu).events.find((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    const d = await device({ tamper: { event: shim.index } });
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons.join('\n')).toContain(`event ${shim.index} (EV_EFI_BOOT_SERVICES_APPLICATION, PCR 4`);
  });

  it('a log that does not match the quote is contraindicated', async () => {
    const d = await device({ tamper: { logOnly: 40 } });
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons.join('\n')).toMatch(/the log is not what the TPM measured/);
  });

  it('Secure Boot off is refused by the policy that requires it', async () => {
    const d = await device({ tamper: { secureBootOff: true } });
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons).toContain('event 4 (EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7, "SecureBoot"): Secure Boot is disabled, and the policy requires it');
  });

  it('IMA: three appraisals sending only new entries stay consistent with PCR 10 in the quote; an unknown file is named', async () => {
    const d = await device({ imaFiles: [files[0]] });
    const first = summarizeEar(await d.attestOverHttp());
    expect(first.reasons).toEqual([]);
    expect(first.status).toBe('affirming');
    await d.linux!.measureFile(files[1][0], files[1][1]);
    const second = summarizeEar(await d.attestOverHttp());
    expect(second.reasons).toEqual([]);
    await d.linux!.measureFile('/tmp/.x/miner', sha('miner'));
    await d.linux!.measureFile(files[2][0], files[2][1]);
    const third = summarizeEar(await d.attestOverHttp());
    expect(third.status).toBe('warning');
    expect(third.reasons).toEqual([
      `IMA entry 3: file /tmp/.x/miner is not in the runtime policy (sha256:${sha('miner').slice(0, 16)}..)`,
      '1 measured file(s) are not recognized by the runtime policy',
    ]);
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items.map((i: { claims: { linux: { ima: { offset: number } } } }) => i.claims.linux.ima.offset)).toEqual([3, 2, 0]);
  });
});
