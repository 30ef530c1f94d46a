import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { Pkcs11Token } from '@fleetguard/pki';
import { TestService, createProduct, createTenant, spawnBuiltService, startTestService } from './support/service';
import { Workdir, curl, opensslCsr } from './support/openssl';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
// SoftHSM2 reads SOFTHSM2_CONF from the real environment, which jest does not let a test change: the
// token goes in the system's token directory under a label of its own, and is deleted afterwards.
const TOKEN = `fg-ca-${process.pid}-${Date.now().toString(36)}`;
const PIN = '246810';

function opensslAsync(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('openssl', args, { encoding: 'utf8', timeout: 20_000 }, (_e, out, err) => resolve(out + err)));
}

/** Every file below `dir` (none when it does not exist: on PostgreSQL there is no embedded data directory). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/** The CA keys in a SoftHSM2 token initialised here: issuance, CRL and OCSP signed by the token; openssl checks them. */
describe('CA keys in a PKCS#11 token (SoftHSM2)', () => {
  let w: Workdir;
  let s: TestService;
  let env: Record<string, string>;

  beforeAll(async () => {
    w = new Workdir();
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', TOKEN, '--pin', PIN, '--so-pin', '13579111'], { stdio: 'pipe' });
    const token = Pkcs11Token.open({ module: MODULE, tokenLabel: TOKEN, pin: PIN });
    token.generateKey('issuing-ca');
    token.close();
    env = { FLEETGUARD_CA_PKCS11_MODULE: MODULE, FLEETGUARD_CA_PKCS11_TOKEN: TOKEN, FLEETGUARD_CA_PKCS11_PIN: PIN, FLEETGUARD_CA_PKCS11_KEY_LABEL: 'issuing-ca' };
    s = await startTestService(env);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
    execFileSync('softhsm2-util', ['--delete-token', '--token', TOKEN], { stdio: 'pipe' });
  });

  it('enrolls a device whose certificate, CRL and OCSP answers openssl verifies against the token-made chain, with no key file on disk', async () => {
    const { key } = await createTenant(s.api, 'manufacturer');
    const product = await createProduct(s.api, key);
    const chain = (await s.api.get('/pki/ca')).body as string;
    const certs = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    const inter = w.write('inter.pem', certs[0]);
    const root = w.write('root.pem', certs[1]);
    w.write('chain.pem', chain);
    const enrolled: Array<{ id: string; file: string }> = [];
    for (const name of ['d1', 'd2']) {
      const t = await s.api.post(`/api/v1/products/${product.id}/enrollment-tokens`, { count: 1, expiresInSeconds: 600 }, key);
      const body = w.write(`${name}.json`, JSON.stringify({ token: t.body.tokens[0], csr: opensslCsr(w, name, 'P-256').csrPem }));
      const r = await curl(['--cacert', w.file('chain.pem'), '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`]);
      expect(r.http).toBe(201);
      const j = JSON.parse(r.stdout);
      enrolled.push({ id: j.deviceId, file: w.write(`${name}.pem`, j.certificate) });
    }
    expect(await opensslAsync(['verify', '-CAfile', root, '-untrusted', inter, enrolled[0]!.file])).toContain(': OK');
    expect((await s.api.post(`/api/v1/devices/${enrolled[1]!.id}/revoke`, { reason: 'keyCompromise' }, key)).status).toBe(200);

    const crl = w.write('crl.der', Buffer.from(await (await fetch(`${s.urls.operator}/pki/crl`)).arrayBuffer()));
    const rootCrl = w.write('root-crl.der', Buffer.from(await (await fetch(`${s.urls.operator}/pki/root-crl`)).arrayBuffer()));
    expect(await opensslAsync(['crl', '-inform', 'DER', '-in', crl, '-noout', '-CAfile', w.file('chain.pem')])).toContain('verify OK');
    expect(await opensslAsync(['crl', '-inform', 'DER', '-in', rootCrl, '-noout', '-CAfile', root])).toContain('verify OK');
    const crlPem = w.write('crl.pem', await opensslAsync(['crl', '-inform', 'DER', '-in', crl]));
    const rootCrlPem = w.write('root-crl.pem', await opensslAsync(['crl', '-inform', 'DER', '-in', rootCrl]));
    const verifyAll = ['verify', '-crl_check_all', '-CAfile', root, '-untrusted', inter, '-CRLfile', crlPem, '-CRLfile', rootCrlPem];
    expect(await opensslAsync([...verifyAll, enrolled[0]!.file])).toContain(': OK');
    expect(await opensslAsync([...verifyAll, enrolled[1]!.file])).toContain('certificate revoked');

    const ocsp = ['ocsp', '-issuer', inter, '-CAfile', root, '-url', `${s.urls.operator}/pki/ocsp`];
    const good = await opensslAsync([...ocsp, '-cert', enrolled[0]!.file]);
    expect(good).toContain('Response verify OK');
    expect(good).toContain(`${enrolled[0]!.file}: good`);
    const revoked = await opensslAsync([...ocsp, '-cert', enrolled[1]!.file]);
    expect(revoked).toContain('Response verify OK');
    expect(revoked).toContain('Reason: keyCompromise');

    // No CA key on disk: the only private key under the service's directories is the attestation
    // verifier's own (EAR signing, not a CA key), and no file holds the key the CA certificates name.
    // The embedded database's own files are left out (they hold the fleet's verifier key, encrypted,
    // in verifier_keys); the database holds no CA key: ca_material is not used with a token.
    const pglite = path.join(s.config.dataDir, 'pglite') + path.sep;
    const files = [...filesUnder(s.config.certsDir), ...filesUnder(s.config.dataDir).filter((f) => !f.startsWith(pglite))];
    expect(await s.app.get(DataSource).query('SELECT 1 FROM ca_material')).toEqual([]);
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['root-ca.crt.pem', 'issuing-ca.crt.pem']));
    expect(files.map((f) => path.basename(f))).not.toEqual(expect.arrayContaining(['issuing-ca.key.enc.pem']));
    const withKeys = files.filter((f) => /PRIVATE KEY/.test(fs.readFileSync(f).toString('latin1')));
    expect(withKeys.map((f) => path.basename(f))).toEqual(['verifier-key.enc.pem']);
  });

  describe('refusals at boot, naming what is wrong (built service)', () => {
    const boot = (over: Record<string, string>) =>
      spawnBuiltService({
        FLEETGUARD_ENV: 'test',
        FLEETGUARD_HTTP_PORT: '0',
        FLEETGUARD_DEVICE_PORT: '0',
        FLEETGUARD_MQTT_PORT: '0',
        // One data directory for the refusals: its database is made once.
        FLEETGUARD_DATA_DIR: w.file('data-refusals'),
        FLEETGUARD_CERTS_DIR: w.file(`certs-${Math.random()}`),
        ...env,
        ...over,
      });
    it('a missing token', async () => {
      await expect(boot({ FLEETGUARD_CA_PKCS11_TOKEN: 'no-such-token' })).rejects.toThrow(/FLEETGUARD_CA_PKCS11_TOKEN: no token labelled "no-such-token".*tokens found: .*"fg-ca-/);
    });
    it('a missing key', async () => {
      await expect(boot({ FLEETGUARD_CA_PKCS11_KEY_LABEL: 'nokey' })).rejects.toThrow(/FLEETGUARD_CA_PKCS11_KEY_LABEL: no private key labelled "nokey" in token "fg-ca-/);
    });
    it('a wrong PIN (from a PIN file)', async () => {
      const pinFile = w.write('pin.txt', '000000\n');
      const { FLEETGUARD_CA_PKCS11_PIN: _pin, ...rest } = env;
      void _pin;
      await expect(
        spawnBuiltService({ FLEETGUARD_ENV: 'test', FLEETGUARD_HTTP_PORT: '0', FLEETGUARD_DEVICE_PORT: '0', FLEETGUARD_MQTT_PORT: '0', FLEETGUARD_DATA_DIR: w.file('data-refusals'), FLEETGUARD_CERTS_DIR: w.file('certs-pin'), ...rest, FLEETGUARD_CA_PKCS11_PIN_FILE: pinFile }),
      ).rejects.toThrow(/FLEETGUARD_CA_PKCS11_PIN: token "fg-ca-[^"]+" refused the PIN \(CKR_PIN_INCORRECT\)/);
    });
  });
});
