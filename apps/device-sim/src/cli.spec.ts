import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { BrokerService } from '@fleetguard/broker/nest';
import { realEventLog } from '@fleetguard/device-kit';
import { productWithRelease } from '../../../test/support/fleet-fixture';
import { TestService, createTenant, startTestService } from '../../../test/support/service';
import { EXIT_OK, EXIT_USAGE, parseMix, parseTokens, runCli } from './cli';

function io(controller = new AbortController()) {
  const out: string[] = [];
  const err: string[] = [];
  const stderr = new PassThrough();
  stderr.on('data', (d) => err.push(String(d)));
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr, signal: controller.signal },
    out: () => out.join(''),
    err: () => err.join(''),
    controller,
  };
}

describe('device-sim CLI', () => {
  let dir: string;
  let s: TestService;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let profileFile: string;
  let tokenFile: string;
  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    dir = mkdtempSync(join(tmpdir(), 'device-sim-cli-'));
    profileFile = join(dir, 'profile.json');
    writeFileSync(profileFile, JSON.stringify(fixture.profile));
    tokenFile = join(dir, 'tokens.txt');
    writeFileSync(tokenFile, 'fgt_a\nfgt_b\n');
  }, 120_000);
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  it.each<[string, string[], RegExp]>([
    ['no arguments', [], /Usage: device-sim/],
    ['an unknown command', ['fly'], /unknown command 'fly'/],
    ['a missing required option', ['run', '--profile', 'p.json'], /required option '--token-file <file>' not specified/],
    ['a bad count', ['run', '--token-file', 't', '--profile', 'p', '--count', 'many'], /--count <n>' argument 'many' is invalid. must be a positive integer/],
    ['an unknown behaviour', ['run', '--token-file', 't', '--profile', 'p', '--behaviour', 'evil'], /Allowed choices are good, tampered-component/],
    ['a bad URL', ['run', '--token-file', 't', '--profile', 'p', '--mqtt-url', 'mqtt://x:1883'], /scheme must be mqtts/],
    ['a bad mix', ['run', '--token-file', 't', '--profile', 'p', '--mix', 'good=1,evil=2'], /unknown mix key 'evil'/],
    ['a bad IMA file', ['run', '--token-file', 't', '--profile', 'p', '--linux-log', 'l', '--ima-file', 'bin/x=00'], /must be <absolute path>=<SHA-256 hex of the file>/],
    ['a bad tamper event', ['run', '--token-file', 't', '--profile', 'p', '--linux-log', 'l', '--tamper-event', '-1'], /--tamper-event <n>' argument '-1' is invalid/],
  ])('exits 2 on %s', async (_name, argv, message) => {
    const t = io();
    expect(await runCli(argv, t.io)).toBe(EXIT_USAGE);
    expect(t.err()).toMatch(message);
  });

  it('exits 2 on unreadable or invalid files, naming them', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ fw: {}, events: [] }));
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '# no tokens yet\n\n');
    const cases: [string[], RegExp][] = [
      [['--token-file', join(dir, 'nope.txt'), '--profile', profileFile], /cannot read token file .*nope\.txt: ENOENT/],
      [['--token-file', empty, '--profile', profileFile], /has no tokens/],
      [['--token-file', tokenFile, '--profile', profileFile, '--count', '3'], /--count 3 needs 3 tokens; .* has 2/],
      [['--token-file', tokenFile, '--profile', bad], /bad\.json: invalid device profile: fw\.productId/],
      [['--token-file', tokenFile, '--profile', tokenFile], /profile .*tokens\.txt is not JSON/],
    ];
    for (const [args, message] of cases) {
      const t = io();
      expect(await runCli(['run', ...args], t.io)).toBe(EXIT_USAGE);
      expect(t.err()).toMatch(message);
    }
  });

  it('--help exits 0', async () => {
    const t = io();
    expect(await runCli(['run', '--help'], t.io)).toBe(EXIT_OK);
    expect(t.out()).toMatch(/--token-file <file>/);
  });

  it('parses tokens and mixes', () => {
    expect(parseTokens('a\r\n\n# comment\n  b  \n')).toEqual(['a', 'b']);
    expect(parseMix('good=90, tampered=5,weak=0.5')).toEqual({ good: 90, tampered: 5, weak: 0.5 });
    expect(() => parseMix('good')).toThrow(/not <behaviour>=<weight>/);
    expect(() => parseMix('good=0')).toThrow(/positive weight/);
  });

  describe('run against the Fleetguard service', () => {
    const urls = () => ['--operator-url', s.urls.operator, '--device-url', s.urls.device, '--mqtt-url', s.urls.mqtt];

    it('starts the devices, prints a line per result, stops on the signal and exits 0', async () => {
      const tokens = join(dir, 'live-tokens.txt');
      writeFileSync(tokens, (await fixture.tokens(3)).join('\n') + '\n');
      const t = io();
      const running = runCli(['run', ...urls(), '--token-file', tokens, '--profile', profileFile, '--mix', 'good=2,tampered=1', '--tpm', 'software'], t.io);
      for (let i = 0; i < 600 && t.out().split('\n').filter(Boolean).length < 3; i++) await new Promise((r) => setTimeout(r, 25));
      t.controller.abort();
      expect(await running).toBe(EXIT_OK);
      const lines = t.out().trim().split('\n');
      expect(lines).toHaveLength(3);
      const line = /^\S+ (\S+) (good|tampered-component) (affirming|contraindicated)(?: {2}(.*))?$/;
      const printed = lines.map((l) => line.exec(l));
      expect(printed.every(Boolean)).toBe(true);
      expect(printed.filter((m) => m![2] === 'good' && m![3] === 'affirming' && m![4] === undefined)).toHaveLength(2);
      expect(printed.filter((m) => m![2] === 'tampered-component' && m![3] === 'contraindicated' && /component 'kernel'/.test(m![4] ?? ''))).toHaveLength(1);
      expect(t.err()).toMatch(/3 devices connected \(2 good, 1 tampered-component\); Ctrl-C to stop/);
      expect(t.err()).toMatch(/stopped; results: 2 affirming, 1 contraindicated/);
      // Each printed line is a result the service recorded, for a device of this product with its TPM key.
      const ids = printed.map((m) => m![1]);
      expect(new Set(ids).size).toBe(3);
      for (const m of printed) {
        const view = await s.api.get(`/api/v1/devices/${m![1]}`, operator.key);
        expect([view.status, view.body.productId, view.body.hasAttestationKey]).toEqual([200, fixture.product.id, true]);
        const history = await s.api.get(`/api/v1/devices/${m![1]}/attestations`, operator.key);
        expect(history.body.items.map((i: { status: string }) => i.status)).toEqual([m![3]]);
        expect(history.body.items[0].reasons.join('; ')).toBe(m![4] ?? '');
      }
      const broker = s.app.get(BrokerService);
      for (let i = 0; i < 200 && ids.some((id) => broker.isConnected(id)); i++) await new Promise((r) => setTimeout(r, 25));
      expect(broker.connectedDevices()).toEqual([]);
    });

    it('--linux-log: Linux devices boot a real TCG log, quote it and attest; --secure-boot-off and --ima-file are what the policies judge', async () => {
      const log = realEventLog('ubuntu-qemu.bin');
      const logFile = join(dir, 'binary_bios_measurements');
      writeFileSync(logFile, log);
      const linuxFixture = await productWithRelease(s.api, { operator });
      const version = encodeURIComponent(linuxFixture.profile.fw.version);
      const base = `/api/v1/products/${linuxFixture.product.id}`;
      expect((await s.api.request('POST', `${base}/firmware/${version}/reference-values/event-log`, { key: linuxFixture.manufacturer.key, raw: log, headers: { 'content-type': 'application/octet-stream' } })).status).toBe(200);
      expect((await s.api.request('PUT', `${base}/measured-boot-policy`, { key: linuxFixture.manufacturer.key, body: { secureBoot: 'required' } })).status).toBe(200);
      const profile = join(dir, 'linux-profile.json');
      writeFileSync(profile, JSON.stringify(linuxFixture.profile));
      const runOne = async (extra: string[]) => {
        const tokens = join(dir, `linux-tokens-${extra.length}.txt`);
        writeFileSync(tokens, (await linuxFixture.tokens(1)).join('\n') + '\n');
        const t = io();
        const running = runCli(['run', ...urls(), '--token-file', tokens, '--profile', profile, '--no-hardening', '--linux-log', logFile, ...extra], t.io);
        for (let i = 0; i < 1200 && !t.out().trim(); i++) await new Promise((r) => setTimeout(r, 25));
        t.controller.abort();
        expect(await running).toBe(EXIT_OK);
        return t.out().trim();
      };
      expect(await runOne([])).toMatch(/^\S+ \S+ good affirming$/);
      const off = await runOne(['--secure-boot-off', '--ima-file', `/usr/bin/gatewayd=${'ab'.repeat(32)}`]);
      expect(off).toMatch(/ contraindicated {2}.*event 4 \(EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7, "SecureBoot"\): Secure Boot is disabled, and the policy requires it/);
      expect(off).toMatch(/IMA entries were not appraised: the product has no runtime policy/);
    });

    it('exits 1 when no device can start', async () => {
      const tokens = join(dir, 'stale-tokens.txt');
      writeFileSync(tokens, 'fgt_unknown\n');
      const t = io();
      expect(await runCli(['run', ...urls(), '--token-file', tokens, '--profile', profileFile], t.io)).toBe(1);
      expect(t.err()).toMatch(/device 0 \(good\) failed: POST \/enroll failed with HTTP 401: the enrollment token is not valid/);
      expect(t.err()).toMatch(/no device started/);
    });
  });
});
