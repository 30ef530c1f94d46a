/**
 * The assessor's cases (issue 16): graded evidence, when a reported fact counts, and each rule
 * defect the review found.
 */
import { FR_KEYS, loadCatalog, type SlVector } from './catalog';
import { loadFactRules } from './fact-rules';
import type { HardeningReport } from './hardening-report.schema';
import type { ObservedFacts } from './observed-facts';
import { createScorer, type DeviceScore, type ScoreInput } from './sl-c.scoring';
import { hardenedReport, trustedEvidence, withFacts } from '@fleetguard/device-kit';

const catalog = loadCatalog();
const rules = loadFactRules();
const EDR = createScorer(catalog, rules, 'EDR', { maxReportAgeSeconds: 86_400 });
const NOW = Date.parse('2025-06-01T12:30:00Z');
const vec = (level: number, overrides: Partial<SlVector> = {}): SlVector =>
  ({ ...Object.fromEntries(FR_KEYS.map((k) => [k, level])), ...overrides }) as SlVector;
const item = (score: DeviceScore, id: string) => {
  const found = score.items.find((i) => i.id === id);
  if (!found) throw new Error(`${id} not scored`);
  return found;
};

/** A hardened device whose report counts, with overrides. */
function score(over: Partial<ScoreInput> & { patch?: Record<string, unknown>; seen?: ObservedFacts } = {}): DeviceScore {
  const { patch, seen, ...rest } = over;
  const t = trustedEvidence();
  return EDR({
    facts: patch ? withFacts(hardenedReport(), patch) : hardenedReport(),
    attestation: t.attestation,
    observed: { ...t.observed, ...seen },
    reportedAt: NOW - 60_000,
    now: NOW,
    ...rest,
  });
}

describe('when a reported fact counts', () => {
  it('a trusted hardened device is 4 everywhere, its report counting', () => {
    const s = score();
    expect(s.report).toEqual({ counts: true, fallback: null });
    expect(s.evidenced).toEqual(vec(4));
  });

  it('a contraindicated device loses its reported evidence in every FR, not only FR3', () => {
    const s = score({ attestation: { status: 'contraindicated', firmwareVersion: '2.4.1' } });
    expect(s.report).toEqual({ counts: false, fallback: 'attestation-not-affirming' });
    expect(s.evidenced).toEqual(vec(0));
    expect(item(s, 'CR 1.1')).toMatchObject({ status: 'missing', grade: null });
    expect(item(s, 'CR 1.1').reason).toMatch(/the device reports it .*but its report does not count: its latest appraisal is not affirming/);
    expect(item(s, 'CR 3.4')).toMatchObject({ status: 'contradicted', grade: 'attested' });
  });

  it('a warning downgrades the same way (and leaves declared items declared)', () => {
    const s = score({ attestation: { status: 'warning', firmwareVersion: '2.4.1' }, declared: ['CR 1.1'] });
    expect(s.evidenced).toEqual(vec(0));
    expect(item(s, 'CR 1.1')).toMatchObject({ status: 'declared', grade: 'declared' });
    expect(s.declared.FR1).toBe(0); // the other FR1 items are neither evidenced nor declared
  });

  it('a stale report downgrades (by the time received, and by the report’s own reportedAt)', () => {
    const received = score({ reportedAt: NOW - 2 * 86_400_000 });
    expect(received.report.fallback).toBe('stale-report');
    expect(received.evidenced).toEqual(vec(0));
    const collected = score({ patch: { reportedAt: '2025-05-01T00:00:00Z' } });
    expect(collected.report.fallback).toBe('stale-report');
    expect(score({ reportedAt: undefined }).report.fallback).toBe('stale-report');
  });

  it('a report naming another firmware than the attested one downgrades', () => {
    const s = score({ attestation: { status: 'affirming', firmwareVersion: '2.5.0' } });
    expect(s.report.fallback).toBe('firmware-mismatch');
    expect(s.evidenced).toEqual(vec(0));
    expect(score({ patch: { firmwareVersion: undefined } }).report.fallback).toBe('firmware-mismatch');
    expect(score({ attestation: { status: 'affirming' } }).report.fallback).toBe('firmware-mismatch');
  });

  it('a weakness the device admits stands even when its report does not count', () => {
    const s = score({ attestation: { status: 'warning', firmwareVersion: '2.4.1' }, patch: { 'debugInterfaces.jtag': 'enabled' } });
    expect(item(s, 'EDR 2.13')).toMatchObject({ status: 'contradicted', grade: 'reported' });
  });
});

describe('grades', () => {
  it('attested, observed, reported and declared', () => {
    const s = score({ seen: { mutualTls: true, fleetguardCertificate: true }, declared: ['CR 1.3'], patch: { 'accounts.manageable': undefined } });
    expect(item(s, 'CR 3.4').grade).toBe('attested');
    expect(item(s, 'CR 1.2').grade).toBe('observed');
    expect(item(s, 'CR 1.1').grade).toBe('reported');
    expect(item(s, 'CR 1.3')).toMatchObject({ status: 'declared', grade: 'declared' });
  });

  it('the observed mutual-TLS certificate evidences CR 1.2 and CR 1.2 RE(1) without any report', () => {
    const s = EDR({ facts: { schemaVersion: 1 }, attestation: { status: 'none' }, observed: { mutualTls: true, fleetguardCertificate: true }, now: NOW });
    expect(item(s, 'CR 1.2')).toMatchObject({ status: 'evidenced', grade: 'observed' });
    expect(item(s, 'CR 1.2').reason).toContain('observed.mutualTls = true');
    expect(item(s, 'CR 1.2 RE(1)')).toMatchObject({ status: 'evidenced', grade: 'observed' });
  });

  it('negotiated TLS 1.2+ with AEAD evidences CR 3.1 as observed; a negotiated TLS 1.1 contradicts it whatever the report says', () => {
    const t = trustedEvidence();
    const noTlsFacts = withFacts(hardenedReport(), { tls: undefined, services: undefined });
    const seen = EDR({ facts: noTlsFacts, attestation: t.attestation, observed: { hardeningReport: true, tlsVersions: ['1.3'], aeadCiphers: true }, reportedAt: NOW, now: NOW });
    expect(item(seen, 'CR 3.1')).toMatchObject({ status: 'evidenced', grade: 'observed' });
    const old = score({ seen: { tlsVersions: ['1.1', '1.2'], aeadCiphers: true } });
    expect(item(old, 'CR 3.1')).toMatchObject({ status: 'contradicted', grade: 'observed' });
    expect(item(old, 'CR 4.1').status).toBe('contradicted');
  });

  it('a TPM-resident key shown by a verified quote evidences the supplier root of trust (EDR 3.12) as observed', () => {
    const s = score({ patch: { rootsOfTrust: undefined }, seen: { tpmResidentKey: true } });
    expect(item(s, 'EDR 3.12')).toMatchObject({ status: 'evidenced', grade: 'observed' });
  });
});

describe('the rule defects the review found', () => {
  it('CR 7.6 RE(1) is not evidenced without a report', () => {
    const none = EDR({ facts: { schemaVersion: 1 }, ...trustedEvidence(), observed: {}, now: NOW });
    expect(item(none, 'CR 7.6 RE(1)').status).toBe('missing');
    expect(item(score(), 'CR 7.6 RE(1)')).toMatchObject({ status: 'evidenced', grade: 'reported' });
  });

  it('EDR 3.14 needs a secure-boot fact besides the attestation', () => {
    expect(item(score({ patch: { secureBoot: undefined } }), 'EDR 3.14').status).toBe('missing');
    expect(item(score({ patch: { 'secureBoot.enabled': false } }), 'EDR 3.14').status).toBe('contradicted');
    expect(item(score(), 'EDR 3.14')).toMatchObject({ status: 'evidenced', grade: 'reported' });
  });

  it('EDR 3.10 is not evidenced by "runs a known release" alone: it needs an update seen in the field or update checking', () => {
    const bare = score({ patch: { updateSignatureCheck: undefined } });
    expect(item(bare, 'EDR 3.10').status).toBe('missing');
    const updated = score({ patch: { updateSignatureCheck: undefined }, seen: { firmwareUpdated: true } });
    expect(item(updated, 'EDR 3.10')).toMatchObject({ status: 'evidenced', grade: 'observed' });
  });

  it('CR 1.7 RE(1) and RE(2) need password reuse to be prohibited', () => {
    const s = score({ patch: { 'passwordPolicy.historyCount': 0 } });
    expect(item(s, 'CR 1.7 RE(1)').status).toBe('contradicted');
    expect(item(s, 'CR 1.7 RE(2)').status).toBe('contradicted');
    expect(item(score({ patch: { 'passwordPolicy.historyCount': undefined } }), 'CR 1.7 RE(1)').status).toBe('missing');
  });

  it('CR 1.9 needs proof of possession and identity mapping besides chain and revocation', () => {
    expect(item(score({ patch: { 'pki.proofOfPossession': false } }), 'CR 1.9').status).toBe('contradicted');
    expect(item(score({ patch: { 'pki.identityMapping': undefined } }), 'CR 1.9').status).toBe('missing');
  });

  it('CR 3.8 needs protected session identifiers, not only TLS versions', () => {
    expect(item(score({ patch: { sessionIntegrity: undefined } }), 'CR 3.8').status).toBe('missing');
    expect(item(score({ patch: { 'sessionIntegrity.invalidatedOnEnd': false } }), 'CR 3.8').status).toBe('contradicted');
  });

  it('CR 7.7 counts plain HTTP as unneeded functionality', () => {
    const http = (svc: HardeningReport['services']) => item(score({ patch: { services: svc } }), 'CR 7.7').status;
    expect(http([{ name: 'http', port: 8081, protocol: 'tcp', encrypted: false }])).toBe('contradicted');
    expect(http([{ name: 'web', port: 80, protocol: 'tcp', encrypted: false }])).toBe('contradicted');
    expect(http([{ name: 'https', port: 443, protocol: 'tcp', encrypted: true }])).toBe('evidenced');
  });

  it('an enhancement has its own applicability where the standard gives it one (CR 2.12 RE(1))', () => {
    const s = score({ patch: { userInterface: undefined }, declared: EDR.declare([], [{ requirement: 'CR 2.12', applicable: false, justification: 'no human user interface' }]) });
    expect(item(s, 'CR 2.12').status).toBe('not-applicable');
    expect(item(s, 'CR 2.12 RE(1)').status).toBe('evidenced');
  });
});
