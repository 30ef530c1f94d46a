import * as fs from 'node:fs';
import * as path from 'node:path';
import { sampleBootEvents } from '@fleetguard/device-kit';
import { SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { refusedUrl } from '../apps/fleetctl/src/testing/canned-api.server';
import { CliRun, makeTempDir, runFleetctl } from '../apps/fleetctl/src/testing/run-fleetctl';
import { oscalAssessmentResultsValidator } from './support/oscal-schema';
import { ADMIN_KEY, TestService, startTestService } from './support/service';

jest.setTimeout(120_000);

const SAMPLES = path.resolve(__dirname, '../firmware-samples');
const PRIV = path.join(SAMPLES, 'keys/ec-p256.pem');
const PUB = path.join(SAMPLES, 'keys/ec-p256.pub.pem');
const VERSION = '3.1.0';
const COUNTER = 7;

/**
 * fleetctl end to end against the real service in this process: the manufacturer's flow from an
 * API key to an enrolled, attested device, then the operator's from the fleet summary to a
 * revocation, and the exit codes scripts rely on. Every step runs fleetctl in-process (a fresh
 * program per run) with its own FLEETCTL_CONFIG, and reads its --json output.
 */
describe('fleetctl against the running service', () => {
  let s: TestService;
  const dir = makeTempDir('fleetctl-e2e-');
  const manufacturerConfig = path.join(dir, 'manufacturer', 'config.json');
  const operatorConfig = path.join(dir, 'operator', 'config.json');
  const devices: SimulatedDevice[] = [];

  /** What the manufacturer's flow leaves for the operator's. */
  const state: { operatorKey?: string; productId?: string; device?: SimulatedDevice } = {};

  /** Runs fleetctl with `--json` and expects exit 0; fails with what it printed otherwise. */
  async function ok(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
    const run = await runFleetctl([...args, '--json'], { cwd: dir, env });
    if (run.code !== 0) throw new Error(`fleetctl ${args.join(' ')} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    return run;
  }
  const admin = (args: string[]) => ok([...args, '--url', s.urls.operator, '--key', ADMIN_KEY]);
  const asManufacturer = (args: string[]) => ok(args, { FLEETCTL_CONFIG: manufacturerConfig });
  const asOperator = (args: string[]) => ok(args, { FLEETCTL_CONFIG: operatorConfig });

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("manufacturer: from an API key to an enrolled device that attests 'affirming'", async () => {
    // Admin: the tenants and their keys.
    const mOrg = (await admin(['org', 'create', 'Acme Controls', '--kind', 'manufacturer'])).json();
    expect(mOrg).toMatchObject({ id: expect.any(String), name: 'Acme Controls', kind: 'manufacturer' });
    const mKey = (await admin(['key', 'create', '--org', mOrg.id, '--roles', 'manufacturer', '--label', 'line 1'])).json();
    expect(mKey).toMatchObject({ key: expect.any(String), organizationId: mOrg.id, roles: ['manufacturer'] });

    const oOrg = (await admin(['org', 'create', 'Plant Operator', '--kind', 'operator'])).json();
    expect(oOrg).toMatchObject({ id: expect.any(String), kind: 'operator' });
    const oKey = (await admin(['key', 'create', '--org', oOrg.id, '--roles', 'operator,auditor'])).json();
    expect(oKey).toMatchObject({ key: expect.any(String), organizationId: oOrg.id });
    state.operatorKey = oKey.key;

    // Manufacturer: login saves {url, key} in its FLEETCTL_CONFIG, used by every later command.
    const login = await ok(['login', '--url', s.urls.operator, '--key', mKey.key], { FLEETCTL_CONFIG: manufacturerConfig });
    expect(login.json()).toMatchObject({ config: manufacturerConfig });
    expect(fs.statSync(manufacturerConfig).mode & 0o777).toBe(0o600);

    const product = (
      await asManufacturer(['product', 'create', '--name', 'PLC-9000', '--type', 'EDR', '--declare', 'CR 1.1,EDR 3.14', '--target', 'FR1=2,FR2=2,FR3=1'])
    ).json();
    expect(product).toMatchObject({
      id: expect.any(String),
      name: 'PLC-9000',
      componentType: 'EDR',
      targetLevels: { FR1: 2, FR2: 2, FR3: 1, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
    });
    expect([...product.declaredRequirements].sort()).toEqual(['CR 1.1', 'EDR 3.14']);
    state.productId = product.id;

    const signingKey = (await asManufacturer(['signing-key', 'add', product.id, PUB])).json();
    expect(signingKey).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // Offline: sign a detached manifest for a raw image, and verify it as the service will.
    const image = path.join(dir, 'app.bin');
    fs.writeFileSync(image, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff)));
    const manifestFile = path.join(dir, 'app.jws');
    const signed = (
      await ok(['firmware', 'sign', '--key', PRIV, '--product', product.id, '--version', VERSION, '--counter', String(COUNTER), image, '--out', manifestFile])
    ).json();
    expect(signed).toMatchObject({ format: 'manifest', keyId: signingKey.keyId, manifest: { productId: product.id, version: VERSION, securityCounter: COUNTER, size: 4096 } });
    expect(signed.manifest.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fs.readFileSync(manifestFile, 'utf8').trim()).toBe(signed.jws);

    const verified = (await ok(['firmware', 'verify', '--pub', PUB, image, '--manifest', manifestFile, '--product', product.id])).json();
    expect(verified).toMatchObject({ ok: true, version: VERSION, securityCounter: COUNTER, signerKeyId: signingKey.keyId, size: 4096 });

    const release = (await asManufacturer(['firmware', 'upload', product.id, image, '--manifest', manifestFile])).json();
    expect(release).toMatchObject({ version: VERSION, securityCounter: COUNTER });

    const list = (await asManufacturer(['firmware', 'list', product.id])).json();
    const releases: Record<string, unknown>[] = Array.isArray(list) ? list : list.items;
    const listed = releases.find((r) => r.version === VERSION);
    expect(listed).toMatchObject({ version: VERSION, securityCounter: COUNTER, digest: expect.any(String) });
    const digest = listed!.digest as string;
    expect(digest.replace(/^sha256:/, '')).toBe(signed.manifest.digest.replace(/^sha256:/, ''));

    // Golden boot measurements of the release.
    const events = sampleBootEvents();
    const refsFile = path.join(dir, 'refs.json');
    fs.writeFileSync(refsFile, JSON.stringify({ events }));
    await asManufacturer(['firmware', 'refs', product.id, VERSION, refsFile]);

    // The operator consents (an enrollment grant for this manufacturer's product); the manufacturer
    // mints one token under it, written owner-only.
    const asOperatorKey = (args: string[]) => ok([...args, '--url', s.urls.operator, '--key', oKey.key]);
    const grant = (await asOperatorKey(['grant', 'create', '--manufacturer', mOrg.id, '--product', product.id, '--max-devices', '1', '--expires', '86400'])).json();
    expect(grant).toMatchObject({ id: expect.any(String), operatorOrganizationId: oOrg.id, manufacturerOrganizationId: mOrg.id, maxDevices: 1, usedDevices: 0 });
    const tokensFile = path.join(dir, 'tokens.txt');
    const tokens = (await asManufacturer(['token', 'create', product.id, '--count', '1', '--grant', grant.id, '--out', tokensFile])).json();
    expect(tokens.tokens).toHaveLength(1);
    expect(fs.statSync(tokensFile).mode & 0o777).toBe(0o600);
    const [token] = fs.readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean);
    expect(token).toBe(tokens.tokens[0]);

    // The device on the factory line: enroll with the token, connect, get its first EAR.
    const device = new SimulatedDevice({
      operatorUrl: s.urls.operator,
      deviceUrl: s.urls.device,
      mqttUrl: s.urls.mqtt,
      token,
      profile: { fw: { productId: product.id, version: VERSION, digest, securityCounter: COUNTER }, events },
      hardening: false,
      reconnectPeriodMs: 0,
    });
    devices.push(device);
    await device.enroll();
    await device.connect();
    const ear = await device.waitForResult(30_000, { since: 0 });
    expect(summarizeEar(ear).status).toBe('affirming');
    state.device = device;

    const shown = (await asManufacturer(['device', 'show', device.deviceId])).json();
    expect(shown.device).toMatchObject({ id: device.deviceId, productId: product.id, status: 'active', firmware: { version: VERSION, securityCounter: COUNTER }, attestation: { status: 'affirming' } });
    expect(shown.score).toMatchObject({ deviceId: device.deviceId, target: product.targetLevels, gaps: expect.any(Object) });

    // The same for people: the SL vectors as a table, one line of gaps per FR, long lists counted.
    const table = await runFleetctl(['device', 'show', device.deviceId], { cwd: dir, tty: true, env: { FLEETCTL_CONFIG: manufacturerConfig } });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ target\s+│ 2\s+│ 2\s+│ 1\s+│ 0\s+│/);
    expect(table.stdout).toMatch(/^gaps:\n {2}FR1 \(target 2, achieved 0\): CR 1\.1 \(declared\), /m);
    expect(table.stdout).toMatch(/│ items\s+│ \d+ requirement\(s\) \(--json for all\)/);
    // Lifecycle findings one line each (release 3.1.0 has no SBOM here), not a JSON cell.
    expect(table.stdout).toMatch(/^lifecycle findings:\n {2}CR 7\.8 \(FR7\) lifecycle\.sbom-missing: the attested release 3\.1\.0 has no SBOM/m);
    expect(table.stdout).not.toMatch(/"reason"/);
  });

  it('operator: a zone with the device, its SL-T, a countermeasure, and assessment exports in every format', async () => {
    const { device, operatorKey } = state;
    if (!device || !operatorKey) throw new Error("the manufacturer's flow did not get as far as an enrolled device");
    const deviceId = device.deviceId;
    const env = { FLEETCTL_URL: s.urls.operator, FLEETCTL_KEY: operatorKey };
    const op = (args: string[]) => ok(args, env);
    const api = async (p: string) => (await s.api.request('GET', `/api/v1${p}`, { key: operatorKey })).body;
    const raw = async (p: string) => (await fetch(`${s.urls.operator}/api/v1${p}`, { headers: { authorization: `Bearer ${operatorKey}` } })).text();

    const z = (await op(['zone', 'create', '--name', 'Cell 1', '--target', 'FR1=2,FR2=2,FR3=2'])).json();
    expect(z).toMatchObject({ id: expect.any(String), name: 'Cell 1', devices: 0, targetLevels: { FR1: 2, FR2: 2, FR3: 2, FR4: 0, FR7: 0 } });
    expect((await op(['zone', 'list'])).json().map((x: { id: string }) => x.id)).toEqual([z.id]);
    expect((await op(['zone', 'assign', z.id, deviceId])).json()).toMatchObject({ id: z.id, devices: 1 });
    // FRs not named keep their level.
    const t = (await op(['zone', 'target', z.id, '--target', 'FR3=1,FR7=1'])).json();
    expect(t.targetLevels).toEqual({ FR1: 2, FR2: 2, FR3: 1, FR4: 0, FR5: 0, FR6: 0, FR7: 1 });
    const cm = (await op(['zone', 'countermeasure', z.id, '--requirement', 'CR 3.14', '--description', 'cabinet sealed and inspected weekly'])).json();
    expect(cm).toMatchObject({ id: expect.any(String), requirement: 'CR 3.14' });

    const shown = (await op(['zone', 'show', z.id])).json();
    expect(shown).toEqual(await api(`/zones/${z.id}`));
    expect(shown.assessment.devices).toBe(1);
    const text = await runFleetctl(['zone', 'show', z.id], { cwd: dir, env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^zone Cell 1 .*1 device\(s\)/);
    for (const k of ['FR1', 'FR3', 'FR7']) {
      const f = shown.assessment.perFr[k];
      expect(text.stdout).toMatch(new RegExp(`^${k}\\s+${f.slT}\\s+${f.slA}\\s+${f.slAWithoutCountermeasures}\\s+${f.slA < f.slT ? 'BELOW TARGET' : 'ok'}`, 'm'));
    }
    expect(text.stdout).toMatch(/CR 3\.14: cabinet sealed and inspected weekly/);

    const out = (f: string) => path.join(dir, `assessment.${f}`);
    for (const format of ['json', 'csv', 'html', 'oscal']) {
      const r = (await op(['assessment', 'export', '--zone', z.id, '--format', format, '--out', out(format)])).json();
      expect(r).toMatchObject({ out: out(format), format, bytes: fs.statSync(out(format)).size });
    }
    expect(fs.readFileSync(out('csv'), 'utf8')).toBe(await raw(`/zones/${z.id}/assessment?format=csv`));
    const json = JSON.parse(fs.readFileSync(out('json'), 'utf8'));
    expect(json.assessment).toEqual(shown.assessment);
    expect(json.rows.every((r: { deviceId: string }) => r.deviceId === deviceId)).toBe(true);
    expect(fs.readFileSync(out('html'), 'utf8')).toMatch(/<title>Zone Cell 1: IEC 62443 assessment<\/title>/);
    const validate = oscalAssessmentResultsValidator();
    expect(validate(JSON.parse(fs.readFileSync(out('oscal'), 'utf8')))).toBe(true);
    await op(['assessment', 'export', '--device', deviceId, '--format', 'oscal', '--out', path.join(dir, 'device.oscal.json')]);
    expect(validate(JSON.parse(fs.readFileSync(path.join(dir, 'device.oscal.json'), 'utf8')))).toBe(true);

    // Refusals: no subject (usage, 2), a bad level (usage, 2), a device the operator does not have (404: 1).
    expect((await runFleetctl(['assessment', 'export', '--format', 'csv', '--out', out('x')], { cwd: dir, env })).code).toBe(2);
    expect((await runFleetctl(['zone', 'target', z.id, '--target', 'FR9=1'], { cwd: dir, env })).code).toBe(2);
    expect((await runFleetctl(['zone', 'assign', z.id, 'fg-0000000000000000'], { cwd: dir, env })).code).toBe(1);
    expect((await op(['zone', 'unassign', z.id, deviceId])).json()).toMatchObject({ devices: 0 });
  });

  it('operator: from the fleet summary to a revoked device, with an intact audit log', async () => {
    const { device, operatorKey } = state;
    if (!device || !operatorKey) throw new Error("the manufacturer's flow did not get as far as an enrolled device");
    const deviceId = device.deviceId;

    await ok(['login', '--url', s.urls.operator], { FLEETCTL_CONFIG: operatorConfig, FLEETCTL_KEY: operatorKey });

    const summary = (await asOperator(['fleet', 'summary'])).json();
    expect(summary).toMatchObject({ total: 1, byStatus: { affirming: 1, revoked: 0 } });
    expect(summary.firmwareVersions).toEqual([expect.objectContaining({ version: VERSION, count: 1 })]);

    const list = (await asOperator(['device', 'list'])).json();
    expect(list.items.map((d: { id: string }) => d.id)).toContain(deviceId);
    const all = (await asOperator(['device', 'list', '--all'])).json();
    expect(all.items.map((d: { id: string }) => d.id)).toContain(deviceId);

    // The service answers 202 with the challenge it sent; the device answers it with new evidence.
    const before = device.results.length;
    const attest = (await asOperator(['device', 'attest', deviceId])).json();
    expect(attest).toMatchObject({ deviceId, nonce: expect.any(String), channel: 'mqtt' });
    expect(summarizeEar(await device.waitForResult(30_000, { since: before })).status).toBe('affirming');

    const revoked = (await asOperator(['device', 'revoke', deviceId, '--reason', 'keyCompromise'])).json();
    expect(revoked).toMatchObject({ deviceId, reason: 'keyCompromise', revokedSerials: [expect.any(String)] });

    const shown = (await asOperator(['device', 'show', deviceId])).json();
    expect(shown.device).toMatchObject({ id: deviceId, status: 'revoked' });
    expect(shown.device.certificate.serial).toBe(revoked.revokedSerials[0]);

    const audit = (await asOperator(['audit', 'verify'])).json();
    expect(audit).toMatchObject({ ok: true, entries: expect.any(Number), head: expect.any(String) });
    expect(audit.entries).toBeGreaterThan(0);
  });

  describe('exit codes', () => {
    it('1: an unknown device (the service answers 404)', async () => {
      const run = await runFleetctl(['device', 'show', 'fg-0000000000000000', '--json'], {
        cwd: dir,
        env: { FLEETCTL_URL: s.urls.operator, FLEETCTL_KEY: ADMIN_KEY },
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(JSON.parse(run.stderr)).toMatchObject({ error: { exitCode: 1, status: 404 } });
    });

    it('2: a bad flag', async () => {
      const run = await runFleetctl(['device', 'list', '--no-such-flag'], { cwd: dir, env: { FLEETCTL_URL: s.urls.operator, FLEETCTL_KEY: ADMIN_KEY } });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/unknown option/);
    });

    it('3: an unreachable service (a closed port)', async () => {
      const run = await runFleetctl(['fleet', 'summary', '--json'], { cwd: dir, env: { FLEETCTL_URL: await refusedUrl(), FLEETCTL_KEY: ADMIN_KEY } });
      expect(run.code).toBe(3);
      expect(JSON.parse(run.stderr)).toMatchObject({ error: { exitCode: 3, code: 'unreachable' } });
    });
  });
});
