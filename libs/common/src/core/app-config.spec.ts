import { ConfigError, parseConfig, redactConfig } from './app-config';

describe('parseConfig', () => {
  it('gives the documented defaults on an empty environment', () => {
    const c = parseConfig({});
    expect(c.httpPort).toBe(3000);
    expect(c.devicePort).toBe(8443);
    expect(c.mqttPort).toBe(8883);
    expect(c.mqttPlainPort).toBeUndefined();
    expect(c.certValidityDays).toBe(90);
    expect(c.mqttMaxPayload).toBe(65536);
    expect(c.maxReportAgeSeconds).toBe(7 * 86400);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir.endsWith('/data')).toBe(true);
  });

  it('takes the maximum report age in seconds', () => {
    expect(parseConfig({ FLEETGUARD_MAX_REPORT_AGE_SECONDS: '3600' }).maxReportAgeSeconds).toBe(3600);
  });

  it('gathers result follow-ups for 25 ms unless told otherwise (0: at once), and refuses a negative window', () => {
    expect(parseConfig({}).followupWindowMs).toBe(25);
    expect(parseConfig({ FLEETGUARD_FOLLOWUP_WINDOW_MS: '0' }).followupWindowMs).toBe(0);
    expect(() => parseConfig({ FLEETGUARD_FOLLOWUP_WINDOW_MS: '-1' })).toThrow(/FLEETGUARD_FOLLOWUP_WINDOW_MS/);
  });

  it('accepts port 0 (any free port)', () => {
    expect(parseConfig({ FLEETGUARD_HTTP_PORT: '0' }).httpPort).toBe(0);
  });

  it.each([
    ['FLEETGUARD_HTTP_PORT', 'abc'],
    ['FLEETGUARD_HTTP_PORT', '70000'],
    ['FLEETGUARD_MQTT_PORT', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['FLEETGUARD_CERT_VALIDITY_DAYS', '0'],
    ['FLEETGUARD_ADMIN_KEY', 'short'],
    ['FLEETGUARD_LOG_LEVEL', 'loud'],
    ['FLEETGUARD_MAX_REPORT_AGE_SECONDS', '10'],
    ['FLEETGUARD_MAX_REPORT_AGE_SECONDS', 'a week'],
  ])('refuses %s=%s and names it', (name, value) => {
    try {
      parseConfig({ [name]: value });
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toContain(name);
    }
  });

  it('refuses an unknown FLEETGUARD_ variable by name', () => {
    expect(() => parseConfig({ FLEETGUARD_HTTP_PROT: '3000' })).toThrow(/FLEETGUARD_HTTP_PROT: unknown/);
  });

  it('refuses a CA passphrase under 16 characters at boot, saying why', () => {
    expect(() => parseConfig({ FLEETGUARD_CA_PASSPHRASE: 'fifteen chars!!' })).toThrow(/FLEETGUARD_CA_PASSPHRASE: must be at least 16 characters/);
    expect(() => parseConfig({ FLEETGUARD_ENV: 'production', FLEETGUARD_CA_PASSPHRASE: 'twelve chars' })).toThrow(/at least 16 characters/);
    expect(parseConfig({ FLEETGUARD_ENV: 'production', FLEETGUARD_CA_PASSPHRASE: 'sixteen chars!!!' }).caPassphrase).toBe('sixteen chars!!!');
  });

  it('requires a CA passphrase in production', () => {
    expect(() => parseConfig({ FLEETGUARD_ENV: 'production' })).toThrow(/FLEETGUARD_CA_PASSPHRASE/);
  });

  it('ignores variables that are not its own', () => {
    expect(() => parseConfig({ PATH: '/bin', HOME: '/root' })).not.toThrow();
  });
});

describe('parseConfig: the device listener and broker TLS certificate', () => {
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-config-'));
    // An operator's certificate and an unrelated key, made by openssl.
    for (const n of ['server', 'other']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/${n}.key`, '-out', `${dir}/${n}.crt`, '-subj', '/CN=device.example', '-days', '2'], { stdio: 'pipe' });
    }
    fs.writeFileSync(`${dir}/garbage.crt`, 'not a certificate\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('defaults to localhost, fleetguard and loopback', () => {
    expect(parseConfig({}).serverNames).toEqual({ dnsNames: ['localhost', 'fleetguard'], ipAddresses: ['127.0.0.1', '::1'] });
  });

  it('splits FLEETGUARD_SERVER_NAMES into DNS names and IP addresses', () => {
    expect(parseConfig({ FLEETGUARD_SERVER_NAMES: 'Device.Fleet.example, mqtt.fleet.example,10.0.0.7,fd00::7' }).serverNames).toEqual({
      dnsNames: ['device.fleet.example', 'mqtt.fleet.example'],
      ipAddresses: ['10.0.0.7', 'fd00::7'],
    });
  });

  it.each(['*.fleet.example', 'bad_name.example', '', 'a..b', '-x.example'])('refuses the server name %j', (name) => {
    expect(() => parseConfig({ FLEETGUARD_SERVER_NAMES: `ok.example,${name}` })).toThrow(/FLEETGUARD_SERVER_NAMES: .* is neither a DNS host name nor an IP address/);
  });

  it('loads an operator certificate whose key matches, and never shows the key', () => {
    const c = parseConfig({ FLEETGUARD_SERVER_CERT: `${dir}/server.crt`, FLEETGUARD_SERVER_KEY: `${dir}/server.key` });
    expect(c.serverCertificate?.certPem).toContain('BEGIN CERTIFICATE');
    expect(c.serverCertificate?.keyPem).toContain('PRIVATE KEY');
    expect(JSON.stringify(redactConfig(c))).not.toContain('PRIVATE KEY');
  });

  it.each([
    [{ FLEETGUARD_SERVER_CERT: 'server.crt', FLEETGUARD_SERVER_KEY: 'other.key' }, /FLEETGUARD_SERVER_KEY: the key in .*other.key does not match the certificate/],
    [{ FLEETGUARD_SERVER_CERT: 'garbage.crt', FLEETGUARD_SERVER_KEY: 'server.key' }, /FLEETGUARD_SERVER_CERT: .*garbage.crt is not a PEM certificate/],
    [{ FLEETGUARD_SERVER_CERT: 'server.crt', FLEETGUARD_SERVER_KEY: 'server.crt' }, /FLEETGUARD_SERVER_KEY: .* is not an unencrypted PEM private key/],
    [{ FLEETGUARD_SERVER_CERT: 'missing.crt', FLEETGUARD_SERVER_KEY: 'server.key' }, /FLEETGUARD_SERVER_CERT: cannot read .*missing.crt \(ENOENT\)/],
    [{ FLEETGUARD_SERVER_CERT: 'server.crt' }, /give both or neither/],
    [{ FLEETGUARD_SERVER_CERT: 'server.crt', FLEETGUARD_SERVER_KEY: 'server.key', FLEETGUARD_SERVER_NAMES: 'a.example' }, /give one or the other/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    const abs = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k === 'FLEETGUARD_SERVER_NAMES' ? v : path.join(dir, v)]));
    expect(() => parseConfig(abs)).toThrow(ConfigError);
    expect(() => parseConfig(abs)).toThrow(message);
  });
});

describe('parseConfig: CA keys in a PKCS#11 token', () => {
  const base = { FLEETGUARD_CA_PKCS11_MODULE: '/bin/sh', FLEETGUARD_CA_PKCS11_TOKEN: 'ca', FLEETGUARD_CA_PKCS11_KEY_LABEL: 'issuing' };
  it('reads the settings and never shows the PIN', () => {
    const c = parseConfig({ ...base, FLEETGUARD_CA_PKCS11_PIN: '123456' });
    expect(c.caPkcs11).toEqual({ module: '/bin/sh', tokenLabel: 'ca', keyLabel: 'issuing', pin: '123456' });
    expect(JSON.stringify(redactConfig(c))).not.toContain('123456');
  });
  it.each([
    [{ ...base }, /give exactly one/],
    [{ ...base, FLEETGUARD_CA_PKCS11_PIN: '1234', FLEETGUARD_CA_PKCS11_PIN_FILE: '/etc/hostname' }, /give exactly one/],
    [{ ...base, FLEETGUARD_CA_PKCS11_PIN_FILE: '/nonexistent/pin' }, /FLEETGUARD_CA_PKCS11_PIN_FILE: cannot read/],
    [{ FLEETGUARD_CA_PKCS11_MODULE: '/bin/sh', FLEETGUARD_CA_PKCS11_PIN: '1234' }, /FLEETGUARD_CA_PKCS11_TOKEN: required/],
    [{ ...base, FLEETGUARD_CA_PKCS11_MODULE: '/nonexistent.so', FLEETGUARD_CA_PKCS11_PIN: '1234' }, /FLEETGUARD_CA_PKCS11_MODULE: no file/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => parseConfig(env)).toThrow(message);
  });
});

describe('parseConfig: several instances (FLEETGUARD_REDIS_URL)', () => {
  const pg = 'postgres://u:pw@db/fleet';
  it('takes a Redis URL with DATABASE_URL and FLEETGUARD_PUBLIC_URL, and never shows its password', () => {
    const c = parseConfig({ DATABASE_URL: pg, FLEETGUARD_PUBLIC_URL: 'https://fleet.example', FLEETGUARD_REDIS_URL: 'redis://:s3cret@cache:6379/2' });
    expect(c.redisUrl).toBe('redis://:s3cret@cache:6379/2');
    expect(JSON.stringify(redactConfig(c))).not.toContain('s3cret');
  });
  it.each([
    [{ FLEETGUARD_REDIS_URL: 'redis://cache:6379', FLEETGUARD_PUBLIC_URL: 'https://fleet.example' }, /FLEETGUARD_REDIS_URL: requires DATABASE_URL/],
    [{ FLEETGUARD_REDIS_URL: 'redis://cache:6379', DATABASE_URL: pg }, /FLEETGUARD_REDIS_URL: requires FLEETGUARD_PUBLIC_URL/],
    [{ FLEETGUARD_REDIS_URL: 'http://cache:6379', DATABASE_URL: pg }, /FLEETGUARD_REDIS_URL: must be a redis/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => parseConfig(env)).toThrow(message);
  });
});
