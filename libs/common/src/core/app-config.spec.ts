import { ConfigError, parseConfig } from './app-config';

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

  it('requires a CA passphrase in production', () => {
    expect(() => parseConfig({ FLEETGUARD_ENV: 'production' })).toThrow(/FLEETGUARD_CA_PASSPHRASE/);
  });

  it('ignores variables that are not its own', () => {
    expect(() => parseConfig({ PATH: '/bin', HOME: '/root' })).not.toThrow();
  });
});
