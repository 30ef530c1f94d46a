import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { EXIT } from '../exit-codes';
import { CannedApi, refusedUrl, startCannedApi } from '../testing/canned-api.server';
import { makeTempDir, runFleetctl } from '../testing/run-fleetctl';

/**
 * The HTTP commands against a canned local server: only the requests they send and how answers
 * map to output and exit codes. The real service is exercised end to end elsewhere.
 */
describe('fleetctl API commands (canned server)', () => {
  let api: CannedApi;
  const dir = makeTempDir();
  const KEY = 'fg_test_key_123';
  // As at a terminal: these tests read the box-drawn tables (plain output is tested below).
  const run = (args: string[], env: Record<string, string> = {}, tty = true) =>
    runFleetctl(args, { cwd: dir, tty, env: { FLEETCTL_URL: api.url, FLEETCTL_KEY: KEY, ...env } });
  const last = () => api.requests[api.requests.length - 1];

  beforeEach(async () => {
    api = await startCannedApi();
  });
  afterEach(() => api.close());
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('request shapes', () => {
    it('draws boxes only at a terminal: plain columns in a pipe, and with NO_COLOR or TERM=dumb', async () => {
      api.routes.set('GET /api/v1/organizations', { json: [{ id: 'a1b2', name: 'Acme Controls', kind: 'manufacturer', createdAt: '2025-01-01T00:00:00.000Z' }] });
      const boxed = await run(['org', 'list']);
      expect(boxed.stdout).toMatch(/[│┌─]/);
      for (const [env, tty] of [[{}, false], [{ NO_COLOR: '1' }, true], [{ TERM: 'dumb' }, true]] as const) {
        const plain = await run(['org', 'list'], env, tty);
        expect(plain.code).toBe(0);
        expect(plain.stdout).not.toMatch(/[│┌┐└┘─┬┴┼]|\x1b\[/);
        expect(plain.stdout.split('\n')[0]).toMatch(/^id\s{2,}name\s{2,}kind\s{2,}createdAt$/);
        expect(plain.stdout.split('\n')[1].split(/\s{2,}/)).toEqual(['a1b2', 'Acme Controls', 'manufacturer', '2025-01-01T00:00:00.000Z']);
      }
    });

    it('org create / list, key create / revoke', async () => {
      const org = { id: 'a1b2', name: 'Acme Controls', kind: 'manufacturer', createdAt: '2025-01-01T00:00:00.000Z' };
      api.routes.set('POST /api/v1/organizations', { status: 201, json: org });
      api.routes.set('GET /api/v1/organizations', { json: [org] });
      api.routes.set('POST /api/v1/api-keys', { status: 201, json: { id: 'k1', key: 'fg_secret', organizationId: 'a1b2', roles: ['manufacturer'] } });
      api.routes.set('DELETE /api/v1/api-keys/k1', { status: 204 });

      const created = await run(['org', 'create', 'Acme Controls', '--kind', 'manufacturer', '--json']);
      expect(created.code).toBe(0);
      expect(created.json()).toEqual(org);
      expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/organizations', json: { name: 'Acme Controls', kind: 'manufacturer' } });
      expect(last().headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'content-type': 'application/json' });

      // Global options may also come before the command.
      const before = await runFleetctl(['--json', '--url', api.url, '--key', 'other-key', 'org', 'list'], { cwd: dir });
      expect(before.json()).toEqual([org]);
      expect(last().headers.authorization).toBe('Bearer other-key');

      const list = await run(['org', 'list']);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/│ id\s+│ name\s+│ kind\s+│ createdAt/);
      expect(list.stdout).toContain('Acme Controls');

      const key = await run(['key', 'create', '--org', 'a1b2', '--roles', 'manufacturer, operator', '--label', 'line 1']);
      expect(key.code).toBe(0);
      expect(last().json).toEqual({ organizationId: 'a1b2', roles: ['manufacturer', 'operator'], label: 'line 1' });
      expect(key.stdout).toContain('fg_secret');
      expect(key.stderr).toMatch(/does not show it again/);

      const revoked = await run(['key', 'revoke', 'k1']);
      expect(revoked).toMatchObject({ code: 0, stdout: 'revoked API key k1\n' });
      expect(last()).toMatchObject({ method: 'DELETE', path: '/api/v1/api-keys/k1' });
    });

    it('product create / list / show', async () => {
      const product = { id: 'p1', name: 'PLC-9000', componentType: 'EDR', declaredRequirements: ['CR 1.1', 'EDR 3.14'] };
      api.routes.set('POST /api/v1/products', { status: 201, json: product });
      api.routes.set('GET /api/v1/products', { json: [product] });
      api.routes.set('GET /api/v1/products/p1', { json: product });

      const created = await run([
        'product', 'create', '--name', 'PLC-9000', '--type', 'EDR', '--declare', 'CR 1.1, EDR  3.14', '--target', 'FR1=2,fr3=3', '--min-counter', '5',
      ]);
      expect(created.code).toBe(0);
      expect(last().json).toEqual({
        name: 'PLC-9000',
        componentType: 'EDR',
        declaredRequirements: ['CR 1.1', 'EDR 3.14'],
        targetLevels: { FR1: 2, FR2: 0, FR3: 3, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
        minSecurityCounter: 5,
      });
      expect((await run(['product', 'list', '--json'])).json()).toEqual([product]);
      const shown = await run(['product', 'show', 'p1']);
      expect(shown.stdout).toMatch(/declaredRequirements\s+│ CR 1\.1, EDR 3\.14/);
    });

    it('signing-key add sends the public PEM; a private key is refused before any request', async () => {
      const pair = generateKeyPairSync('ed25519');
      const pub = path.join(dir, 'sign.pub.pem');
      const priv = path.join(dir, 'sign.pem');
      fs.writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
      fs.writeFileSync(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      api.routes.set('POST /api/v1/products/p1/signing-keys', (req) => ({ status: 201, json: { keyId: req.json.publicKey.includes('PUBLIC KEY') ? 'kid1' : 'x' } }));
      api.routes.set('DELETE /api/v1/products/p1/signing-keys/kid1', { status: 204 });

      const added = await run(['signing-key', 'add', 'p1', 'sign.pub.pem', '--json']);
      expect(added.code).toBe(0);
      expect(added.json()).toEqual({ keyId: 'kid1' });
      expect(last().json).toEqual({ publicKey: fs.readFileSync(pub, 'utf8') });
      expect(added.stderr).toMatch(/the service reports key id kid1, fleetctl computed [0-9a-f]{64}/);

      const count = api.requests.length;
      const refused = await run(['signing-key', 'add', 'p1', 'sign.pem']);
      expect(refused.code).toBe(EXIT.usage);
      expect(refused.stderr).toMatch(/this is a private key/);
      expect(api.requests.length).toBe(count);

      const kid = 'ab'.repeat(32);
      api.routes.set('GET /api/v1/products/p1/signing-keys', { json: [{ keyId: kid, algorithm: 'EdDSA', status: 'trusted' }] });
      const listed = await run(['signing-key', 'list', 'p1']);
      expect(listed.stdout).toMatch(new RegExp(`${kid}\\s+│ EdDSA\\s+│ trusted`)); // full key ids: they are what revoke takes

      expect((await run(['signing-key', 'revoke', 'p1', 'kid1'])).code).toBe(0);
      expect(last()).toMatchObject({ method: 'DELETE', path: '/api/v1/products/p1/signing-keys/kid1' });
    });

    it('firmware upload streams the raw image with its manifest header', async () => {
      const image = path.join(dir, 'fw.bin');
      const bytes = Buffer.alloc(300_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
      fs.writeFileSync(image, bytes);
      fs.writeFileSync(path.join(dir, 'fw.jws'), 'aaa.bbb.ccc\n');
      const release = { version: '1.0.0', securityCounter: 3, status: 'trusted' };
      api.routes.set('POST /api/v1/products/p1/firmware', { status: 201, json: release });

      const uploaded = await run(['firmware', 'upload', 'p1', 'fw.bin', '--manifest', 'fw.jws', '--json']);
      expect(uploaded.code).toBe(0);
      expect(uploaded.json()).toEqual(release);
      expect(uploaded.stderr).toBe(''); // no progress bar when stderr is not a terminal
      const req = last();
      expect(req.headers).toMatchObject({
        'content-type': 'application/octet-stream',
        'x-firmware-manifest': 'aaa.bbb.ccc',
        'content-length': String(bytes.length),
        authorization: `Bearer ${KEY}`,
      });
      expect(req.body.equals(bytes)).toBe(true);

      const count = api.requests.length;
      const noManifest = await run(['firmware', 'upload', 'p1', 'fw.bin']);
      expect(noManifest.code).toBe(EXIT.usage);
      expect(noManifest.stderr).toMatch(/not an MCUboot image \(binary or Intel HEX\): pass its detached manifest with --manifest/);
      expect(api.requests.length).toBe(count);
    });

    it('firmware upload hands fetch a stream it must not buffer (no redirect replay)', async () => {
      // undici keeps every chunk of a streamed body when it may have to replay it on a redirect:
      // redirect 'error' is what keeps a 1 GiB upload in constant memory.
      fs.writeFileSync(path.join(dir, 'small.bin'), Buffer.alloc(10, 1));
      fs.writeFileSync(path.join(dir, 'small.jws'), 'aaa.bbb.ccc');
      let seen: RequestInit | undefined;
      const fakeFetch = (async (_url: string, init: RequestInit) => {
        seen = init;
        return new Response(JSON.stringify({ version: '1' }), { status: 201, headers: { 'content-type': 'application/json' } });
      }) as unknown as typeof fetch;
      const uploaded = await runFleetctl(['firmware', 'upload', 'p1', 'small.bin', '--manifest', 'small.jws'], {
        cwd: dir,
        env: { FLEETCTL_URL: 'http://127.0.0.1:9', FLEETCTL_KEY: KEY },
        fetch: fakeFetch,
      });
      expect(uploaded.code).toBe(0);
      expect(seen).toMatchObject({ method: 'POST', redirect: 'error', duplex: 'half' });
      expect(seen!.body).toBeInstanceOf(ReadableStream);
    });

    it('firmware list / revoke / refs', async () => {
      api.routes.set('GET /api/v1/products/p1/firmware', { json: [{ version: '1.2.3+4', securityCounter: 5, status: 'trusted', digest: `sha256:${'ab'.repeat(32)}` }] });
      api.routes.set('POST /api/v1/products/p1/firmware/1.2.3%2B4/revoke', { json: { version: '1.2.3+4', status: 'revoked' } });
      api.routes.set('PUT /api/v1/products/p1/firmware/1.2.3%2B4/reference-values', (req) => ({ json: req.json }));

      const list = await run(['firmware', 'list', 'p1']);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/1\.2\.3\+4\s+│ -\s+│ 5\s+│ trusted\s+│ -\s+│ sha256:abababababababab…/);

      expect((await run(['firmware', 'revoke', 'p1', '1.2.3+4', '--reason', 'CVE-2025-1234'])).code).toBe(0);
      expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/products/p1/firmware/1.2.3%2B4/revoke', json: { reason: 'CVE-2025-1234' } });

      const refs = { events: [{ pcr: 0, component: 'bl2', digest: 'aa'.repeat(32) }], pcrs: { '0': 'bb'.repeat(32) } };
      fs.writeFileSync(path.join(dir, 'refs.json'), JSON.stringify({ ...refs, comment: 'not sent' }));
      const set = await run(['firmware', 'refs', 'p1', '1.2.3+4', 'refs.json']);
      expect(set).toMatchObject({ code: 0, stdout: 'set 1 reference event(s) and 1 PCR value(s) for p1 1.2.3+4\n' });
      expect(last()).toMatchObject({ method: 'PUT', json: refs });

      fs.writeFileSync(path.join(dir, 'bad-refs.json'), '{"pcr": 0}');
      const bad = await run(['firmware', 'refs', 'p1', '1.2.3+4', 'bad-refs.json']);
      expect(bad.code).toBe(EXIT.usage);
      expect(bad.stderr).toMatch(/must hold \{"events"/);
    });

    it('token create prints tokens one per line, or writes them owner-only with --out', async () => {
      api.routes.set('POST /api/v1/products/p1/enrollment-tokens', (req) => ({
        status: 201,
        json: { tokens: Array.from({ length: req.json.count }, (_, i) => `tok-${i}`) },
      }));
      const printed = await run(['token', 'create', 'p1', '--count', '3', '--expires', '600', '--grant', 'g1']);
      expect(printed).toMatchObject({ code: 0, stdout: 'tok-0\ntok-1\ntok-2\n' });
      expect(last().json).toEqual({ count: 3, expiresInSeconds: 600, grantId: 'g1' });

      const written = await run(['token', 'create', 'p1', '--count', '2', '--out', 'tokens.txt']);
      expect(written.code).toBe(0);
      expect(last().json).toEqual({ count: 2, expiresInSeconds: 3600 });
      const file = path.join(dir, 'tokens.txt');
      expect(fs.readFileSync(file, 'utf8')).toBe('tok-0\ntok-1\n');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(written.stdout).not.toContain('tok-0');
    });

    it('grant create, list and withdraw send what the operator gave; a --max-devices of 0 is refused locally', async () => {
      api.routes.set('POST /api/v1/enrollment-grants', (req) => ({ status: 201, json: { id: 'g1', ...req.json, usedDevices: 0 } }));
      api.routes.set('GET /api/v1/enrollment-grants', { json: [{ id: 'g1', manufacturerOrganizationId: 'm1', usedDevices: 2, maxDevices: 5 }] });
      api.routes.set('DELETE /api/v1/enrollment-grants/g1', { status: 204 });
      const created = await run(['grant', 'create', '--manufacturer', 'm1', '--product', 'p1', '--max-devices', '5', '--expires', '600', '--json']);
      expect(created.code).toBe(0);
      expect(last().json).toEqual({ manufacturerOrganizationId: 'm1', productId: 'p1', maxDevices: 5, expiresInSeconds: 600 });
      expect(JSON.parse(created.stdout)).toMatchObject({ id: 'g1', maxDevices: 5 });
      expect((await run(['grant', 'create', '--manufacturer', 'm1'])).code).toBe(0);
      expect(last().json).toEqual({ manufacturerOrganizationId: 'm1', maxDevices: 100, expiresInSeconds: 30 * 24 * 3600 });
      const listed = await run(['grant', 'list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('g1');
      expect((await run(['grant', 'withdraw', 'g1'])).code).toBe(0);
      expect(last()).toMatchObject({ method: 'DELETE', path: '/api/v1/enrollment-grants/g1' });
      const before = api.requests.length;
      expect((await run(['grant', 'create', '--manufacturer', 'm1', '--max-devices', '0'])).code).toBe(2);
      expect(api.requests.length).toBe(before);
    });

    it('device list passes the filters and follows the cursor with --all', async () => {
      api.routes.set('GET /api/v1/devices', (req) => {
        const cursor = req.query.get('cursor');
        if (!cursor) return { json: { items: [{ id: 'd1', status: 'affirming', firmware: { version: '1.0.0' } }], next: 'c2' } };
        if (cursor === 'c2') return { json: { items: [{ id: 'd2', status: 'stale' }], next: 'c3' } };
        return { json: { items: [{ id: 'd3', status: 'warning' }], next: null } };
      });
      const one = await run(['device', 'list', '--status', 'stale', '--product', 'p1', '--firmware', '1.0.0', '--below-target', '--stale', '--limit', '50']);
      expect(one.code).toBe(0);
      expect(Object.fromEntries(last().query)).toEqual({
        status: 'stale',
        productId: 'p1',
        firmwareVersion: '1.0.0',
        belowTarget: 'true',
        stale: 'true',
        limit: '50',
      });
      expect(one.stdout).toMatch(/│ id\s+│ status\s+│ firmware\.version\s+│\n[\s\S]*│ d1\s+│ affirming\s+│ 1\.0\.0\s+│/);
      expect(one.stderr).toMatch(/more devices: --cursor c2 \(or --all\)/);

      const all = await run(['device', 'list', '--limit', '1', '--all', '--json']);
      expect(all.code).toBe(0);
      expect(all.json()).toEqual({ items: [{ id: 'd1', status: 'affirming', firmware: { version: '1.0.0' } }, { id: 'd2', status: 'stale' }, { id: 'd3', status: 'warning' }], next: null });
      expect(api.requests.slice(-3).map((r) => [r.query.get('cursor'), r.query.get('limit')])).toEqual([[null, '1'], ['c2', '1'], ['c3', '1']]);
    });

    it('`devices --exposed` (the spelling of issue 19) is the device list filtered on exposure', async () => {
      api.routes.set('GET /api/v1/devices', { json: { items: [{ id: 'd9', status: 'affirming', firmware: { version: '1.0.0' } }], next: null } });
      const exposed = await run(['devices', '--exposed', '--product', 'p1', '--json']);
      expect(exposed.code).toBe(0);
      expect(last()).toMatchObject({ method: 'GET', path: '/api/v1/devices' });
      expect(Object.fromEntries(last().query)).toEqual({ exposed: 'true', productId: 'p1' });
      expect(exposed.json()).toEqual({ items: [{ id: 'd9', status: 'affirming', firmware: { version: '1.0.0' } }], next: null });
      await run(['device', 'list', '--exposed']);
      expect(Object.fromEntries(last().query)).toEqual({ exposed: 'true' });
    });

    it('device show / attest / revoke', async () => {
      const device = { id: 'd1', status: 'affirming', productId: 'p1' };
      const score = {
        evidenced: { FR1: 1, FR2: 2, FR3: 2, FR4: 1, FR5: 1, FR6: 1, FR7: 1 },
        declared: { FR1: 2, FR2: 2, FR3: 3, FR4: 1, FR5: 1, FR6: 1, FR7: 1 },
        gaps: { FR1: ['CR 1.2'], FR2: [] },
      };
      api.routes.set('GET /api/v1/devices/d1', { json: device });
      api.routes.set('GET /api/v1/devices/d1/score', { json: score });
      api.routes.set('POST /api/v1/devices/d1/attest', { status: 202, json: { nonce: 'n1' } });
      api.routes.set('POST /api/v1/devices/d1/revoke', { json: { id: 'd1', status: 'revoked' } });

      const shown = await run(['device', 'show', 'd1']);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/evidenced\s+│ 1\s+│ 2/);
      expect(shown.stdout).toMatch(/gaps:\n {2}FR1: CR 1\.2\n/);
      expect((await run(['device', 'show', 'd1', '--json'])).json()).toEqual({ device, score });

      expect((await run(['device', 'attest', 'd1'])).code).toBe(0);
      expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/devices/d1/attest' });

      expect((await run(['device', 'revoke', 'd1', '--reason', 'keyCompromise'])).code).toBe(0);
      expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/devices/d1/revoke', json: { reason: 'keyCompromise' } });
    });

    it("device show renders the service's score view: FR objects in gaps, long lists counted", async () => {
      const gap = (target: number, items: object[]) => ({ target, achieved: 0, items });
      const score = {
        deviceId: 'd1',
        evidenced: { FR1: 0, FR2: 0, FR3: 0, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
        target: { FR1: 2, FR2: 1, FR3: 0, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
        gaps: { FR1: gap(2, [{ id: 'CR 1.1', sl: 1, status: 'declared', reason: 'declared; not shown' }, { id: 'CR 1.2', sl: 2, status: 'missing', reason: 'r' }]), FR2: gap(1, []), FR3: gap(0, []) },
        gapsDeclared: { FR1: gap(2, [{ id: 'CR 1.2', sl: 2, status: 'missing', reason: 'r' }]), FR2: gap(1, []) },
        items: Array.from({ length: 83 }, (_, i) => ({ id: `CR ${i}`, status: 'missing', reason: 'long text' })),
        history: [{ at: '2025-01-01T00:00:00.000Z', cause: 'enrolled' }],
      };
      api.routes.set('GET /api/v1/devices/d1', { json: { id: 'd1', status: 'active' } });
      api.routes.set('GET /api/v1/devices/d1/score', { json: score });

      const shown = await run(['device', 'show', 'd1']);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/│ target\s+│ 2\s+│ 1\s+│ 0/);
      expect(shown.stdout).not.toMatch(/│ gaps/);
      expect(shown.stdout).toContain('gaps:\n  FR1 (target 2, achieved 0): CR 1.1 (declared), CR 1.2 (missing)\n');
      expect(shown.stdout).toContain('gaps (declared vector):\n  FR1 (target 2, achieved 0): CR 1.2 (missing)\n');
      expect(shown.stdout).toMatch(/│ items\s+│ 83 requirement\(s\) \(--json for all\)/);
      expect(shown.stdout).toMatch(/│ history\s+│ 1 entry\(ies\) \(--json for all\)/);
      expect(shown.stdout).not.toContain('long text');
    });

    it('fleet summary and export (streamed to the file)', async () => {
      api.routes.set('GET /api/v1/fleet/summary', { json: { devices: 3, byStatus: { affirming: 2, stale: 1 } } });
      const csv = 'id,status\n' + Array.from({ length: 5000 }, (_, i) => `d${i},affirming`).join('\n') + '\n';
      api.routes.set('GET /api/v1/fleet/report', (req) => ({ body: req.query.get('format') === 'csv' ? csv : '[]', headers: { 'content-type': 'text/csv' } }));

      const summary = await run(['fleet', 'summary']);
      expect(summary.stdout).toMatch(/byStatus\.affirming\s+│ 2/);

      const exported = await run(['export', '--format', 'csv', '--out', 'report.csv', '--json']);
      expect(exported.code).toBe(0);
      expect(exported.json()).toEqual({ out: path.join(dir, 'report.csv'), format: 'csv', bytes: Buffer.byteLength(csv) });
      expect(fs.readFileSync(path.join(dir, 'report.csv'), 'utf8')).toBe(csv);
      expect(last().query.get('format')).toBe('csv');
    });

    it('audit verify: exit 0 when the chain holds, 1 when it is broken', async () => {
      api.routes.set('GET /api/v1/audit/verify', { json: { ok: true, entries: 12, head: 'abc' } });
      expect(await run(['audit', 'verify'])).toMatchObject({ code: 0, stdout: 'audit log OK: 12 entries, head abc\n' });
      api.routes.set('GET /api/v1/audit/verify', { json: { ok: false, entries: 4, brokenAt: 5, reason: 'hash mismatch' } });
      const broken = await run(['audit', 'verify']);
      expect(broken.code).toBe(EXIT.refused);
      expect(broken.stdout).toMatch(/BROKEN at entry 5.*hash mismatch/);
      const json = await run(['audit', 'verify', '--json']);
      expect(json.code).toBe(EXIT.refused);
      expect(json.json()).toEqual({ ok: false, entries: 4, brokenAt: 5, reason: 'hash mismatch' });
    });
  });

  describe('exit codes from the service', () => {
    it('a 4xx is exit 1 with the service message', async () => {
      api.routes.set('POST /api/v1/products', { status: 400, json: { statusCode: 400, error: 'Bad Request', message: 'declaredRequirements holds id(s) ...: CR 9.9', code: 'product.unknown-requirement' } });
      const bad = await run(['product', 'create', '--name', 'P', '--type', 'EDR', '--target', 'FR1=1', '--declare', 'CR 9.9']);
      expect(bad.code).toBe(EXIT.refused);
      expect(bad.stderr).toBe('fleetctl: POST /products -> 400 Bad Request: declaredRequirements holds id(s) ...: CR 9.9\n');

      const json = await run(['product', 'create', '--name', 'P', '--type', 'EDR', '--target', 'FR1=1', '--json']);
      expect(json.stdout).toBe('');
      expect(JSON.parse(json.stderr)).toEqual({ error: { exitCode: 1, code: 'product.unknown-requirement', message: expect.stringContaining('400 Bad Request'), status: 400 } });
    });

    it('401 and 404 come with a hint', async () => {
      api.routes.set('GET /api/v1/organizations', { status: 401, json: { statusCode: 401, error: 'Unauthorized', message: 'invalid API key' } });
      const unauthorized = await run(['org', 'list']);
      expect(unauthorized.code).toBe(EXIT.refused);
      expect(unauthorized.stderr).toMatch(/401 Unauthorized: invalid API key \(check the API key/);

      const missing = await run(['product', 'show', 'nope']);
      expect(missing.code).toBe(EXIT.refused);
      expect(missing.stderr).toMatch(/GET \/products\/nope -> 404 Not Found: .*belongs to another organization/);
    });

    it('a 5xx is exit 3, with the error id when the service gives one', async () => {
      api.routes.set('GET /api/v1/fleet/summary', { status: 500, json: { statusCode: 500, error: 'Internal Server Error', message: 'unexpected error; see the service log', errorId: 'e-42' } });
      const failed = await run(['fleet', 'summary']);
      expect(failed.code).toBe(EXIT.unavailable);
      expect(failed.stderr).toMatch(/500 Internal Server Error: unexpected error; see the service log \[error id e-42\]/);
    });

    it('a non-JSON error page is exit 3 with its first line', async () => {
      api.routes.set('GET /api/v1/fleet/summary', { status: 502, body: '\n<html>Bad gateway</html>\n' });
      const failed = await run(['fleet', 'summary']);
      expect(failed.code).toBe(EXIT.unavailable);
      expect(failed.stderr).toMatch(/502 Bad Gateway: <html>Bad gateway<\/html>/);
    });

    it('a 2xx that is not JSON is exit 3', async () => {
      api.routes.set('GET /api/v1/fleet/summary', { body: 'hello' });
      const odd = await run(['fleet', 'summary']);
      expect(odd.code).toBe(EXIT.unavailable);
      expect(odd.stderr).toMatch(/not JSON/);
    });

    it('a redirect is not followed (the key would go along): exit 2, naming where to', async () => {
      api.routes.set('GET /api/v1/products', { status: 301, headers: { location: 'https://fleet.example/api/v1/products' } });
      const moved = await run(['product', 'list']);
      expect(moved.code).toBe(EXIT.usage);
      expect(moved.stderr).toMatch(/GET \/products: the service redirects to https:\/\/fleet\.example\/api\/v1\/products; give its final URL with --url/);
      expect(api.requests).toHaveLength(1);
    });

    it('a connection refused is exit 3', async () => {
      const url = await refusedUrl();
      const down = await runFleetctl(['fleet', 'summary'], { env: { FLEETCTL_URL: url, FLEETCTL_KEY: KEY } });
      expect(down.code).toBe(EXIT.unavailable);
      expect(down.stderr).toMatch(new RegExp(`cannot reach the service at ${url}: .*ECONNREFUSED`));
    });
  });

  describe('login and logout', () => {
    it('checks the key on /catalog, saves {url, key} owner-only, and later commands use it for that URL only', async () => {
      const config = path.join(dir, 'cfg', 'fleetctl.json');
      api.routes.set('GET /api/v1/catalog', (req) =>
        req.headers.authorization === 'Bearer good'
          ? { json: { version: '1' } }
          : { status: 401, json: { statusCode: 401, error: 'Unauthorized', message: 'invalid API key' } },
      );
      api.routes.set('GET /api/v1/products', { json: [] });
      const env = { FLEETCTL_CONFIG: config };

      const refused = await runFleetctl(['login', '--url', api.url, '--key', 'bad'], { env });
      expect(refused.code).toBe(EXIT.refused);
      expect(fs.existsSync(config)).toBe(false);

      const ok = await runFleetctl(['login', '--url', `${api.url}/`, '--key', 'good'], { env });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`logged in to ${api.url}`);
      expect(ok.stdout).not.toContain('good');
      expect(JSON.parse(fs.readFileSync(config, 'utf8'))).toEqual({ url: api.url, key: 'good' });
      expect(fs.statSync(config).mode & 0o777).toBe(0o600);

      const list = await runFleetctl(['product', 'list'], { env });
      expect(list).toMatchObject({ code: 0, stdout: '(none)\n' });
      expect(last().headers.authorization).toBe('Bearer good');

      // The saved key is never sent to another service.
      const elsewhere = await runFleetctl(['product', 'list', '--url', 'http://127.0.0.1:9'], { env });
      expect(elsewhere.code).toBe(EXIT.usage);
      expect(elsewhere.stderr).toMatch(/no API key for http:\/\/127\.0\.0\.1:9/);

      const out = await runFleetctl(['logout'], { env });
      expect(out.code).toBe(0);
      expect(fs.existsSync(config)).toBe(false);
      expect((await runFleetctl(['logout'], { env })).stdout).toMatch(/not logged in/);
    });

    it('login needs a key given for it', async () => {
      const run = await runFleetctl(['login', '--url', api.url]);
      expect(run.code).toBe(EXIT.usage);
      expect(run.stderr).toMatch(/give the API key to save/);
    });
  });
});
