import * as fs from 'node:fs';
import { DataSource } from 'typeorm';
import { parseConfig } from '@fleetguard/common';
import { createRootLogger } from '@fleetguard/platform/nest';
import { startService } from '../apps/fleet-server/src/bootstrap';
import { Api, TestService, createProduct, createTenant, startTestService } from './support/service';
import { KeySpec, Workdir, curl, openssl, opensslCsr } from './support/openssl';

describe('device PKI against openssl and curl', () => {
  let s: TestService;
  let w: Workdir;
  let key: string;
  let productId: string;
  let caFile: string;
  let rootFile: string;
  let interFile: string;

  beforeAll(async () => {
    s = await startTestService();
    w = new Workdir();
    key = (await createTenant(s.api, 'manufacturer')).key;
    productId = (await createProduct(s.api, key)).id;
    const chain = await s.api.get('/pki/ca');
    expect(chain.status).toBe(200);
    caFile = w.write('chain.pem', chain.body);
    const certs = chain.body.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
    interFile = w.write('intermediate.pem', certs[0]);
    rootFile = w.write('root.pem', certs[1]);
  });
  afterAll(async () => {
    await s?.stop();
    w?.cleanup();
  });

  async function tokens(n: number, pid = productId, expiresInSeconds = 3600): Promise<string[]> {
    const r = await s.api.post(`/api/v1/products/${pid}/enrollment-tokens`, { count: n, expiresInSeconds }, key);
    expect(r.status).toBe(201);
    return r.body.tokens;
  }

  async function enroll(body: object) {
    const f = w.write(`enroll-${Math.random()}.json`, JSON.stringify(body));
    const r = await curl(['--cacert', caFile, '-H', 'content-type: application/json', '--data-binary', `@${f}`, `${s.urls.device}/enroll`]);
    return { http: r.http, body: r.stdout ? JSON.parse(r.stdout) : undefined };
  }

  it.each(['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as KeySpec[])('issues a certificate for an openssl %s CSR that openssl verifies, with the device profile', async (spec) => {
    const [token] = await tokens(1);
    const { csrPem } = opensslCsr(w, `dev-${spec}`, spec);
    const r = await enroll({ token, csr: csrPem });
    expect(r.http).toBe(201);
    expect(r.body.deviceId).toMatch(/^fg-[0-9a-f]{16}$/);
    const certFile = w.write(`dev-${spec}.pem`, r.body.certificate);
    const v = openssl(['verify', '-CAfile', rootFile, '-untrusted', interFile, certFile]);
    expect(v.stdout).toContain(': OK');
    const text = openssl(['x509', '-in', certFile, '-noout', '-text']).stdout;
    expect(text).toContain(`Subject: CN = ${r.body.deviceId}`);
    expect(text).not.toContain('Ignored');
    expect(text).toContain(`URI:urn:fleetguard:device:${r.body.deviceId}`);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
    expect(text).toContain('/pki/crl');
    expect(text).toContain('X509v3 Authority Key Identifier');
    const serial = openssl(['x509', '-in', certFile, '-noout', '-serial']).stdout.trim().split('=')[1];
    expect(serial.length).toBeGreaterThanOrEqual(31);
    const notAfter = new Date(openssl(['x509', '-in', certFile, '-noout', '-enddate']).stdout.trim().split('=')[1]);
    expect(Math.round((notAfter.getTime() - Date.now()) / 86400_000)).toBe(90);
  });

  describe('refusals: a clear 4xx and nothing issued', () => {
    async function deviceCount() {
      const rows = await s.app.get(DataSource).query('SELECT count(*)::int AS n FROM devices');
      return rows[0].n as number;
    }

    it('RSA-1024, and the token stays usable', async () => {
      const [token] = await tokens(1);
      const before = await deviceCount();
      const weak = await enroll({ token, csr: opensslCsr(w, 'weak', 'RSA-1024').csrPem });
      expect(weak.http).toBe(400);
      expect(weak.body.code).toBe('csr.key-not-allowed');
      expect(await deviceCount()).toBe(before);
      expect((await enroll({ token, csr: opensslCsr(w, 'after-weak', 'P-256').csrPem })).http).toBe(201);
    });

    it('a CSR whose signature does not verify', async () => {
      const [token] = await tokens(1);
      const { csr } = opensslCsr(w, 'tamper', 'P-256');
      const der = Buffer.from(openssl(['req', '-in', csr, '-outform', 'DER']).stdout, 'binary');
      const raw = fs.readFileSync(csr, 'utf8');
      const b64 = raw.replace(/-----[^-]+-----|\s/g, '');
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 5] ^= 0x01;
      const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
      expect(der.length).toBeGreaterThan(0);
      const r = await enroll({ token, csr: pem });
      expect(r.http).toBe(400);
      expect(r.body.code).toBe('csr.bad-signature');
    });

    it.each([
      ['garbage', 'hello, I am not a CSR'],
      ['truncated PEM', '-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjCByQIBADBnMQsw\n-----END CERTIFICATE REQUEST-----\n'],
      ['an empty string', ''],
    ])('%s', async (_w, csr) => {
      const [token] = await tokens(1);
      const r = await enroll({ token, csr });
      expect(r.http).toBe(400);
      expect(r.body.statusCode).toBe(400);
    });

    it('one token enrolls exactly one device, even when eight devices race for it', async () => {
      const [token] = await tokens(1);
      const csrs = Array.from({ length: 8 }, (_, i) => opensslCsr(w, `race-${i}`, 'P-256').csrPem);
      const results = await Promise.all(csrs.map((csr) => enroll({ token, csr })));
      const codes = results.map((r) => r.http).sort();
      expect(codes).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      const rows = await s.app.get(DataSource).query('SELECT count(*)::int AS n FROM enrollment_tokens t JOIN devices d ON d.id = t.device_id WHERE t.token_hash IS NOT NULL AND d.id = $1', [results.find((r) => r.http === 201)!.body.deviceId]);
      expect(rows[0].n).toBe(1);
    });

    it('a used token, an expired token, an unknown token, a token of another product', async () => {
      const [token] = await tokens(1);
      expect((await enroll({ token, csr: opensslCsr(w, 'once', 'P-256').csrPem })).http).toBe(201);
      const again = await enroll({ token, csr: opensslCsr(w, 'twice', 'P-256').csrPem });
      expect(again.http).toBe(409);
      expect(again.body.code).toBe('enrollment.token-used');

      const [old] = await tokens(1);
      await s.app.get(DataSource).query(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL`);
      const expired = await enroll({ token: old, csr: opensslCsr(w, 'late', 'P-256').csrPem });
      expect(expired.http).toBe(410);

      expect((await enroll({ token: 'fget_' + 'A'.repeat(32), csr: opensslCsr(w, 'unknown', 'P-256').csrPem })).http).toBe(401);

      const other = (await createProduct(s.api, key)).id;
      const [mine] = await tokens(1);
      const wrong = await enroll({ token: mine, csr: opensslCsr(w, 'wrongprod', 'P-256').csrPem, productId: other });
      expect(wrong.http).toBe(403);
      expect(wrong.body.code).toBe('enrollment.wrong-product');
    });
  });

  it('revocation: the CRL marks the certificate revoked for openssl verify -crl_check, others stay OK', async () => {
    const [t1, t2] = await tokens(2);
    const a = await enroll({ token: t1, csr: opensslCsr(w, 'revokeme', 'P-256').csrPem });
    const b = await enroll({ token: t2, csr: opensslCsr(w, 'keepme', 'P-256').csrPem });
    const aFile = w.write('revokeme.pem', a.body.certificate);
    const bFile = w.write('keepme.pem', b.body.certificate);
    const op = await createTenant(s.api, 'operator');
    // The manufacturer revokes (an operator would need the device assigned to it).
    const r = await s.api.post(`/api/v1/devices/${a.body.deviceId}/revoke`, { reason: 'keyCompromise' }, key);
    expect(r.status).toBe(200);
    expect((await s.api.post(`/api/v1/devices/${a.body.deviceId}/revoke`, { reason: 'keyCompromise' }, op.key)).status).toBe(404);
    expect((await s.api.post(`/api/v1/devices/${b.body.deviceId}/revoke`, { reason: 'becauseIsaidSo' }, key)).status).toBe(400);

    const crl = await fetch(`${s.urls.operator}/pki/crl`);
    expect(crl.headers.get('content-type')).toContain('application/pkix-crl');
    const crlDer = w.write('crl.der', Buffer.from(await crl.arrayBuffer()));
    const crlPem = openssl(['crl', '-inform', 'DER', '-in', crlDer]).stdout;
    expect(openssl(['crl', '-inform', 'DER', '-in', crlDer, '-noout', '-text']).stdout).toContain('Key Compromise');
    const bundle = w.write('bundle.pem', fs.readFileSync(rootFile, 'utf8') + fs.readFileSync(interFile, 'utf8') + crlPem);
    const revoked = openssl(['verify', '-crl_check', '-CAfile', bundle, aFile]);
    expect(revoked.status).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    const ok = openssl(['verify', '-crl_check', '-CAfile', bundle, bFile]);
    expect(ok.stdout).toContain(': OK');
    expect((await s.api.get('/pki/crl.pem')).body).toContain('-----BEGIN X509 CRL-----');
  });

  describe('EST (RFC 7030) with curl and openssl', () => {
    it('cacerts is a PKCS#7 that openssl reads; csrattrs parses', async () => {
      const r = await curl(['--cacert', caFile, `${s.urls.device}/.well-known/est/cacerts`]);
      expect(r.http).toBe(200);
      const p7 = w.write('cacerts.b64', r.stdout);
      const der = w.write('cacerts.der', Buffer.from(fs.readFileSync(p7, 'utf8'), 'base64'));
      const printed = openssl(['pkcs7', '-inform', 'DER', '-in', der, '-print_certs', '-noout']).stdout;
      expect(printed.match(/subject=/g)).toHaveLength(2);
      const attrs = await curl(['--cacert', caFile, `${s.urls.device}/.well-known/est/csrattrs`]);
      expect(attrs.http).toBe(200);
      const attrsDer = w.write('attrs.der', Buffer.from(attrs.stdout, 'base64'));
      expect(openssl(['asn1parse', '-inform', 'DER', '-in', attrsDer]).status).toBe(0);
    });

    it('simpleenroll with the token as Basic password, then simplereenroll over mutual TLS; refused with a revoked or foreign certificate', async () => {
      const [token] = await tokens(1);
      const { key: devKey, csr } = opensslCsr(w, 'est1', 'P-256');
      const body = w.write('est1.b64', openssl(['req', '-in', csr, '-outform', 'DER']).stdout ? Buffer.from(fs.readFileSync(csr, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64') : '');
      const r = await curl(['--cacert', caFile, '-u', `device:${token}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${body}`, `${s.urls.device}/.well-known/est/${productId}/simpleenroll`]);
      expect(r.http).toBe(200);
      const der = w.write('est1.p7.der', Buffer.from(r.stdout, 'base64'));
      const certPem = openssl(['pkcs7', '-inform', 'DER', '-in', der, '-print_certs']).stdout;
      const certFile = w.write('est1.crt', certPem);
      const cn = /subject=CN\s*=\s*(\S+)/.exec(certPem)![1];
      expect(openssl(['verify', '-CAfile', rootFile, '-untrusted', interFile, certFile]).stdout).toContain(': OK');

      // Renewal: a new key, the same subject, authenticated by the current certificate.
      const renewed = opensslCsr(w, 'est1-renew', 'P-256', `/CN=${cn}`);
      const body2 = w.write('est1r.b64', Buffer.from(renewed.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'));
      const rr = await curl(['--cacert', caFile, '--cert', certFile, '--key', devKey, '--data-binary', `@${body2}`, '-H', 'Content-Type: application/pkcs10', `${s.urls.device}/.well-known/est/simplereenroll`]);
      expect(rr.http).toBe(200);
      const newPem = openssl(['pkcs7', '-inform', 'DER', '-in', w.write('est1r.der', Buffer.from(rr.stdout, 'base64')), '-print_certs']).stdout;
      expect(newPem).toContain(`CN = ${cn}`);

      // Another subject is refused.
      const other = opensslCsr(w, 'est1-other', 'P-256', '/CN=someone-else');
      const body3 = w.write('est1o.b64', Buffer.from(other.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'));
      expect((await curl(['--cacert', caFile, '--cert', certFile, '--key', devKey, '--data-binary', `@${body3}`, `${s.urls.device}/.well-known/est/simplereenroll`])).http).toBe(403);

      // Without a certificate, with a foreign self-signed one, and after revocation: refused.
      expect((await curl(['--cacert', caFile, '--data-binary', `@${body2}`, `${s.urls.device}/.well-known/est/simplereenroll`])).http).toBe(401);
      const foreignKey = w.file('foreign.key');
      const foreignCert = w.file('foreign.crt');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', foreignKey, '-out', foreignCert, '-subj', `/CN=${cn}`, '-days', '1']);
      expect((await curl(['--cacert', caFile, '--cert', foreignCert, '--key', foreignKey, '--data-binary', `@${body2}`, `${s.urls.device}/.well-known/est/simplereenroll`])).http).toBe(401);
      expect((await s.api.post(`/api/v1/devices/${cn}/revoke`, { reason: 'cessationOfOperation' }, key)).status).toBe(200);
      expect((await curl(['--cacert', caFile, '--cert', certFile, '--key', devKey, '--data-binary', `@${body2}`, `${s.urls.device}/.well-known/est/simplereenroll`])).http).toBe(401);
    });

    it('simpleenroll with a token of another product (label) is refused', async () => {
      const other = (await createProduct(s.api, key)).id;
      const [token] = await tokens(1);
      const { csrPem } = opensslCsr(w, 'est2', 'P-256');
      const body = w.write('est2.b64', Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'));
      const r = await curl(['--cacert', caFile, '-u', `x:${token}`, '--data-binary', `@${body}`, `${s.urls.device}/.well-known/est/${other}/simpleenroll`]);
      expect(r.http).toBe(403);
    });
  });

  it('operator routes are not served on the device listener, device routes not on the operator listener', async () => {
    expect((await curl(['--cacert', caFile, `${s.urls.device}/api/v1/products`])).http).toBe(404);
    expect((await s.api.post('/enroll', { token: 'x', csr: 'y' })).status).toBe(404);
    expect((await curl(['--cacert', caFile, `${s.urls.device}/pki/ca`])).http).toBe(200);
  });

  it('keeps the CA key encrypted at rest and refuses to start with a wrong passphrase', async () => {
    const keyPem = fs.readFileSync(`${s.config.certsDir}/issuing-ca.key.enc.pem`, 'utf8');
    expect(keyPem).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    expect(keyPem).not.toContain('-----BEGIN PRIVATE KEY-----');
    expect(openssl(['pkey', '-in', `${s.config.certsDir}/issuing-ca.key.enc.pem`, '-passin', 'pass:wrong-passphrase-x', '-noout']).status).not.toBe(0);
    const config = parseConfig({
      FLEETGUARD_ENV: 'test',
      FLEETGUARD_DATA_DIR: `${s.dir}/other-data`,
      FLEETGUARD_CERTS_DIR: s.config.certsDir,
      FLEETGUARD_BIND: '127.0.0.1',
      FLEETGUARD_HTTP_PORT: '0',
      FLEETGUARD_DEVICE_PORT: '0',
      FLEETGUARD_MQTT_PORT: '0',
      FLEETGUARD_CA_PASSPHRASE: 'not-the-right-passphrase',
      FLEETGUARD_LOG_LEVEL: 'silent',
      ...(s.config.databaseUrl ? { DATABASE_URL: s.config.databaseUrl } : {}),
    });
    await expect(startService(config, createRootLogger('silent'))).rejects.toThrow(/wrong FLEETGUARD_CA_PASSPHRASE/);
  });

  it('reads keys an earlier version wrote (PBKDF2 at 2,048 iterations) and writes them again at boot under 600,000, same CA, same verifier key', async () => {
    const { keyProtectionOf } = await import('@fleetguard/common');
    const { createPrivateKey } = await import('node:crypto');
    const certs = `${s.dir}/old-certs`;
    fs.cpSync(s.config.certsDir, certs, { recursive: true });
    const files = ['root-ca.key.enc.pem', 'issuing-ca.key.enc.pem', 'verifier-key.enc.pem'];
    for (const f of files) {
      // What Node's export (and so Fleetguard before this version) wrote: OpenSSL's default 2,048 iterations.
      const key = createPrivateKey({ key: fs.readFileSync(`${certs}/${f}`, 'utf8'), passphrase: 'test-ca-passphrase-123' });
      fs.writeFileSync(`${certs}/${f}`, key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test-ca-passphrase-123' }) as string);
      expect(keyProtectionOf(fs.readFileSync(`${certs}/${f}`, 'utf8'))).toMatchObject({ iterations: 2048 });
    }
    const config = parseConfig({
      FLEETGUARD_ENV: 'test',
      FLEETGUARD_DATA_DIR: `${s.dir}/old-data`,
      FLEETGUARD_CERTS_DIR: certs,
      FLEETGUARD_BIND: '127.0.0.1',
      FLEETGUARD_HTTP_PORT: '0',
      FLEETGUARD_DEVICE_PORT: '0',
      FLEETGUARD_MQTT_PORT: '0',
      FLEETGUARD_CA_PASSPHRASE: 'test-ca-passphrase-123',
      FLEETGUARD_LOG_LEVEL: 'silent',
    });
    const again = await startService(config, createRootLogger('silent'));
    try {
      for (const f of files) expect(keyProtectionOf(fs.readFileSync(`${certs}/${f}`, 'utf8'))).toMatchObject({ kdf: 'pbkdf2', iterations: 600_000, prf: 'hmacWithSHA256' });
      expect(fs.statSync(`${certs}/issuing-ca.key.enc.pem`).mode & 0o777).toBe(0o600);
      const api = new Api(again.urls.operator);
      // Same root (the issuing certificate is re-issued naming this instance's root CRL URL, so compare the root).
      const root = (chain: string) => chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.pop();
      expect(root((await api.get('/pki/ca')).body)).toBe(root((await s.api.get('/pki/ca')).body));
      expect((await api.get('/attestation/verifier-key')).body.kid).toBe((await s.api.get('/attestation/verifier-key')).body.kid);
    } finally {
      await again.close();
    }
  }, 180_000);
});
