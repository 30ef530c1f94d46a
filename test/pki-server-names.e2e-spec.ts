import { execFileSync, spawn } from 'node:child_process';
import { TestService, createProduct, createTenant, spawnBuiltService, startTestService } from './support/service';
import { Workdir, curl, opensslCsr } from './support/openssl';

/** openssl s_client, run asynchronously (the service lives in this process). */
function sClient(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.stdin.end('Q\n');
    const t = setTimeout(() => p.kill(), 20_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

describe('server names: the device listener and broker certificate names FLEETGUARD_SERVER_NAMES', () => {
  let s: TestService;
  let w: Workdir;
  let caFile: string;
  const NAME = 'device.fleet.example';

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_SERVER_NAMES: `${NAME},mqtt.fleet.example,10.20.30.40` });
    w = new Workdir();
    caFile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  it('openssl s_client -verify_hostname accepts the configured name on the device listener and refuses localhost', async () => {
    const ok = await sClient(['-connect', `127.0.0.1:${s.ports.device}`, '-servername', NAME, '-verify_hostname', NAME, '-CAfile', caFile, '-verify_return_error']);
    expect(ok.out).toContain('Verify return code: 0 (ok)');
    const ip = await sClient(['-connect', `127.0.0.1:${s.ports.device}`, '-verify_ip', '10.20.30.40', '-CAfile', caFile, '-verify_return_error']);
    expect(ip.out).toContain('Verify return code: 0 (ok)');
    const wrong = await sClient(['-connect', `127.0.0.1:${s.ports.device}`, '-servername', 'localhost', '-verify_hostname', 'localhost', '-CAfile', caFile, '-verify_return_error']);
    expect(wrong.out).toMatch(/hostname mismatch/);
    expect(wrong.out).not.toContain('Verify return code: 0 (ok)');
  });

  it('curl --resolve enrolls a device by host name, and the broker presents the same names to that device', async () => {
    const { key } = await createTenant(s.api, 'manufacturer');
    const product = await createProduct(s.api, key);
    const tokens = await s.api.post(`/api/v1/products/${product.id}/enrollment-tokens`, { count: 1, expiresInSeconds: 3600 }, key);
    expect(tokens.status).toBe(201);
    const { csrPem, key: deviceKey } = opensslCsr(w, 'dev', 'P-256');
    const body = w.write('enroll.json', JSON.stringify({ token: tokens.body.tokens[0], csr: csrPem }));
    const r = await curl(['--resolve', `${NAME}:${s.ports.device}:127.0.0.1`, '--cacert', caFile, '-H', 'content-type: application/json', '--data-binary', `@${body}`, `https://${NAME}:${s.ports.device}/enroll`]);
    expect(r.http).toBe(201);
    const certFile = w.write('dev.pem', JSON.parse(r.stdout).certificate);
    // Plain curl to localhost fails the host name check: the certificate no longer names it.
    const wrong = await curl(['--cacert', caFile, `https://localhost:${s.ports.device}/pki/ca`]);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate|SSL/i);

    const mqtt = await sClient(['-connect', `127.0.0.1:${s.ports.mqtt}`, '-servername', 'mqtt.fleet.example', '-verify_hostname', 'mqtt.fleet.example', '-CAfile', caFile, '-cert', certFile, '-key', deviceKey, '-verify_return_error']);
    expect(mqtt.out).toContain('Verify return code: 0 (ok)');
  });
});

describe('server certificate brought by the operator (FLEETGUARD_SERVER_CERT, FLEETGUARD_SERVER_KEY)', () => {
  let w: Workdir;
  beforeAll(() => {
    w = new Workdir();
    const o = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', cwd: w.dir });
    // The operator's own CA and a server certificate for plant.example, made with openssl alone.
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'op-ca.key', '-out', 'op-ca.crt', '-subj', '/CN=Operator CA', '-days', '5']);
    o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=plant.example']);
    w.write('ext.cnf', 'subjectAltName=DNS:plant.example\nextendedKeyUsage=serverAuth\n');
    o(['x509', '-req', '-in', 'server.csr', '-CA', 'op-ca.crt', '-CAkey', 'op-ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
    o(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key']);
  });
  afterAll(() => w?.cleanup());

  it('the device listener presents it; curl trusting the operator CA reaches it by name', async () => {
    const s = await startTestService({ FLEETGUARD_SERVER_CERT: w.file('server.crt'), FLEETGUARD_SERVER_KEY: w.file('server.key') });
    try {
      const r = await curl(['--resolve', `plant.example:${s.ports.device}:127.0.0.1`, '--cacert', w.file('op-ca.crt'), `https://plant.example:${s.ports.device}/pki/ca`]);
      expect(r.http).toBe(200);
      expect(r.stdout).toContain('BEGIN CERTIFICATE');
      const broker = await sClient(['-connect', `127.0.0.1:${s.ports.mqtt}`, '-verify_hostname', 'plant.example', '-CAfile', w.file('op-ca.crt')]);
      expect(broker.out).toContain('Verify return code: 0 (ok)');
    } finally {
      await s.stop();
    }
  });

  it('a key that does not match stops the built service at boot with exit code 2 and a message naming the variable', async () => {
    const started = spawnBuiltService({ FLEETGUARD_ENV: 'test', FLEETGUARD_HTTP_PORT: '0', FLEETGUARD_DEVICE_PORT: '0', FLEETGUARD_MQTT_PORT: '0', FLEETGUARD_DATA_DIR: w.file('data'), FLEETGUARD_CERTS_DIR: w.file('certs'), FLEETGUARD_SERVER_CERT: w.file('server.crt'), FLEETGUARD_SERVER_KEY: w.file('other.key') });
    await expect(started).rejects.toThrow(/service exited with 2:[\s\S]*FLEETGUARD_SERVER_KEY: the key in .*other.key does not match the certificate/);
  });
});
