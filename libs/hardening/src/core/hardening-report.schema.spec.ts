import { DomainError } from '@fleetguard/common';
import { MAX_SERVICES, validateHardeningReport } from './hardening-report.schema';
import { hardenedReport, withFacts } from '@fleetguard/device-kit';

function problemsOf(json: unknown): string[] {
  try {
    validateHardeningReport(json);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect(e).toMatchObject({ code: 'hardening.invalid-report', kind: 'invalid' });
    return (e as DomainError).details!.problems as string[];
  }
  throw new Error('expected the report to be rejected');
}

describe('validateHardeningReport', () => {
  it('accepts a full report and returns it typed', () => {
    const report = hardenedReport();
    expect(validateHardeningReport(report)).toBe(report);
  });

  it('accepts the minimal report (only the schema version) and JSON text', () => {
    expect(validateHardeningReport({ schemaVersion: 1 })).toEqual({ schemaVersion: 1 });
    expect(validateHardeningReport('{"schemaVersion":1,"usesPki":true}')).toEqual({ schemaVersion: 1, usesPki: true });
  });

  const service = { name: 'https', port: 443, protocol: 'tcp', encrypted: true };
  it.each<[string, unknown, string[]]>([
    ['no schema version', { usesPki: true }, ['report is missing the required field "schemaVersion"']],
    ['another schema version', { schemaVersion: 2 }, ['schemaVersion must be 1']],
    ['not an object', [1, 2], ['report must be an object']],
    ['unknown top-level field', { schemaVersion: 1, telnetEnabled: true }, ['report has an unknown field "telnetEnabled"']],
    ['unknown nested field', withFacts(hardenedReport(), { 'secureBoot.measured': true }), ['secureBoot has an unknown field "measured"']],
    ['wrong type', withFacts(hardenedReport(), { 'secureBoot.enabled': 'yes' }), ['secureBoot.enabled must be a boolean']],
    ['wrong type in an array element', withFacts(hardenedReport(), { services: [{ ...service, port: '443' }] }), ['services[0].port must be an integer']],
    ['number out of range', withFacts(hardenedReport(), { services: [{ ...service, port: 70000 }] }), ['services[0].port must be <= 65535']],
    ['negative count', withFacts(hardenedReport(), { 'accounts.local': -1 }), ['accounts.local must be >= 0']],
    ['bad enum', withFacts(hardenedReport(), { 'debugInterfaces.jtag': 'open' }), ['debugInterfaces.jtag must be one of "absent", "disabled", "locked", "enabled"']],
    ['bad TLS version', withFacts(hardenedReport(), { 'tls.versions': ['1.2', '2.0'] }), ['tls.versions[1] must be one of "1.0", "1.1", "1.2", "1.3"']],
    ['duplicate list value', withFacts(hardenedReport(), { 'tls.versions': ['1.2', '1.2'] }), ['tls.versions lists the same value twice (items 0 and 1)']],
    ['oversize array', withFacts(hardenedReport(), { services: Array.from({ length: MAX_SERVICES + 1 }, () => service) }), [`services has more than ${MAX_SERVICES} items`]],
    ['oversize string', withFacts(hardenedReport(), { firmwareVersion: 'v'.repeat(65) }), ['firmwareVersion is longer than 64 characters']],
    ['empty string', withFacts(hardenedReport(), { firmwareVersion: '' }), ['firmwareVersion must not be empty']],
    ['bad service name', withFacts(hardenedReport(), { services: [{ ...service, name: 'Bad Name' }] }), ['services[0].name contains characters that are not allowed']],
    ['bad timestamp', withFacts(hardenedReport(), { reportedAt: '2025-13-45 noon' }), ['reportedAt must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z']],
    ['null fact', withFacts(hardenedReport(), { usesPki: null }), ['usesPki must be a boolean']],
  ])('rejects %s, saying so in plain words', (_name, json, expected) => {
    expect(problemsOf(json)).toEqual(expected);
  });

  it('lists every problem, and the message names them', () => {
    const json = { schemaVersion: 1, usesPki: 'no', secureBoot: { enabled: 1 }, extra: 1 };
    expect(problemsOf(json).sort()).toEqual(
      ['report has an unknown field "extra"', 'secureBoot.enabled must be a boolean', 'usesPki must be a boolean'].sort(),
    );
    expect(() => validateHardeningReport(json)).toThrow(/^invalid hardening report: .*usesPki must be a boolean/);
  });

  it('caps the message at 20 problems', () => {
    const services = Array.from({ length: 30 }, () => ({ ...service, port: 0 }));
    expect(() => validateHardeningReport({ schemaVersion: 1, services })).toThrow(/; and 10 more$/);
  });

  it('rejects JSON text that does not parse', () => {
    expect(() => validateHardeningReport('{"schemaVersion":')).toThrow(/not valid JSON/);
  });
});
