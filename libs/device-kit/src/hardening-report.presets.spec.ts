import { createScorer, loadCatalog, loadFactRules, validateHardeningReport } from '@fleetguard/hardening';
import { goodHardeningReport, weakHardeningReport } from './hardening-report.presets';

describe('hardening report presets', () => {
  it.each([
    ['good', goodHardeningReport],
    ['weak', weakHardeningReport],
  ] as const)('%s report validates against the hardening report schema (JSON round trip too)', (_name, make) => {
    const report = make({ firmwareVersion: '2.4.1', reportedAt: new Date('2025-06-01T12:00:00.123Z') });
    expect(validateHardeningReport(report)).toBe(report);
    expect(validateHardeningReport(JSON.stringify(report))).toEqual(report);
    expect(report).toMatchObject({ schemaVersion: 1, firmwareVersion: '2.4.1', reportedAt: '2025-06-01T12:00:00Z' });
    expect(validateHardeningReport(make())).toBeDefined(); // defaults: now, no firmware version
  });

  it('the weak report states the classic weaknesses', () => {
    const weak = weakHardeningReport();
    expect(weak.secureBoot).toEqual({ enabled: false, verified: false });
    expect(weak.defaultCredentialsChanged).toBe(false);
    expect(weak.debugInterfaces?.jtag).toBe('enabled');
    expect(weak.services?.some((s) => s.name === 'telnet' && !s.encrypted)).toBe(true);
    expect(weak.tls?.versions).toContain('1.0');
    expect(weak.updateSignatureCheck).toBe(false);
  });

  it('scores: with the same affirming attestation, the good report reaches higher SL-C and the weak one is contradicted', () => {
    // A report counts only when it names the attested firmware (SPEC: evidence-graded scoring).
    const attestation = { status: 'affirming' as const, at: new Date(), firmwareVersion: '1.0.0' };
    const observed = { hardeningReport: true };
    // The product's statement of applicability (not the device) says it has no radio and runs no mobile code.
    const scorer = createScorer(loadCatalog(), loadFactRules(), 'EDR');
    const declared = scorer.declare([], [
      { requirement: 'CR 2.2', applicable: false, justification: 'no wireless interface' },
      { requirement: 'CR 2.4', applicable: false, justification: 'no mobile code' },
    ]);
    const good = scorer({ facts: goodHardeningReport({ firmwareVersion: '1.0.0' }), attestation, observed, declared });
    const weak = scorer({ facts: weakHardeningReport({ firmwareVersion: '1.0.0' }), attestation, observed, declared });
    const sum = (v: Record<string, number>) => Object.values(v).reduce((a, b) => a + b, 0);
    expect(sum(good.evidenced)).toBeGreaterThan(sum(weak.evidenced));
    expect(Object.values(good.evidenced).every((sl) => sl >= 1)).toBe(true);
    expect(Object.values(weak.evidenced).every((sl) => sl === 0)).toBe(true);
    expect(weak.counts.contradicted).toBeGreaterThan(good.counts.contradicted);
  });
});
