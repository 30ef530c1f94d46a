import { loadCatalog, loadFactRules, type Catalog, type SlVector } from '../core';
import { hardenedReport } from '@fleetguard/device-kit';
import type { ScoringSubject } from './hardening.repository';
import { planWrite, productScoring, scoreSubject } from './rescore.batch';
import { ScorerCache } from './scorer.cache';
import { UNCERTAIN_FALLBACK_NOTE, toCatalogView } from './score.view';
import { observedFacts } from './hardening.repository';
import { EMPTY_REPORT, isBelowTarget, scoringAttestation, toTargetLevels } from './scoring-inputs';

const NOW = new Date('2025-06-01T12:00:00Z');
const INTERVAL = 300;
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);
const vector = (n: number): SlVector => ({ FR1: n, FR2: n, FR3: n, FR4: n, FR5: n, FR6: n, FR7: n }) as SlVector;

describe('scoringAttestation: what the stored attestation state means for scoring', () => {
  it.each([
    ['never appraised', { attestationStatus: null, attestationAt: null, affirmedAt: null }, 'none'],
    ['affirming within 2 intervals', { attestationStatus: 'affirming', attestationAt: ago(10), affirmedAt: ago(10) }, 'affirming'],
    ['affirming just inside 2 intervals', { attestationStatus: 'affirming', attestationAt: ago(599), affirmedAt: ago(599) }, 'affirming'],
    ['affirming older than 2 intervals', { attestationStatus: 'affirming', attestationAt: ago(601), affirmedAt: ago(601) }, 'stale'],
    ['a warning after a fresh affirmation', { attestationStatus: 'warning', attestationAt: ago(5), affirmedAt: ago(200) }, 'warning'],
    ['a status but never affirmed', { attestationStatus: 'warning', attestationAt: ago(5), affirmedAt: null }, 'stale'],
    ['contraindicated, however old', { attestationStatus: 'contraindicated', attestationAt: ago(99999), affirmedAt: ago(99999) }, 'contraindicated'],
    ['contraindicated, never affirmed', { attestationStatus: 'contraindicated', attestationAt: ago(5), affirmedAt: null }, 'contraindicated'],
    ['an unknown status with a fresh affirmation', { attestationStatus: 'bogus', attestationAt: ago(5), affirmedAt: ago(5) }, 'none'],
  ])('%s', (_what, state, expected) => {
    expect(scoringAttestation(state, NOW, INTERVAL).status).toBe(expected);
  });

  it('passes the appraisal time on', () => {
    expect(scoringAttestation({ attestationStatus: 'affirming', attestationAt: ago(10), affirmedAt: ago(10) }, NOW, INTERVAL).at).toEqual(ago(10));
  });
});

describe('targets', () => {
  it('keeps FR1..FR7 with integer levels 0..4 and drops the rest', () => {
    expect(toTargetLevels({ FR1: 2, FR2: 5, FR3: -1, FR4: 1.5, FR5: '2', FR8: 3, FR7: 0 })).toEqual({ FR1: 2, FR7: 0 });
    expect(toTargetLevels(null)).toEqual({});
  });

  it('is below target when some FR is under its target', () => {
    expect(isBelowTarget(vector(2), { FR1: 2, FR3: 2 })).toBe(false);
    expect(isBelowTarget({ ...vector(2), FR3: 1 }, { FR1: 2, FR3: 2 })).toBe(true);
    expect(isBelowTarget(vector(0), {})).toBe(false);
  });
});

describe('planWrite: what a rescore stores', () => {
  const cache = new ScorerCache();
  const product = productScoring(cache, {
    id: 'p1',
    componentType: 'EDR',
    declaredRequirements: ['CR 3.4'],
    targetLevels: { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 },
    applicability: [],
  });
  const subject = (over: Partial<ScoringSubject> = {}): ScoringSubject => ({
    deviceId: 'd1',
    productId: 'p1',
    manufacturerOrgId: 'm',
    operatorOrgId: 'o',
    status: 'active',
    attestationStatus: 'affirming',
    attestationAt: ago(5),
    affirmedAt: ago(5),
    slEvidenced: null,
    slDeclared: null,
    belowTarget: null,
    report: hardenedReport(),
    reportId: 'r1',
    reportedAt: ago(5),
    attestationVersion: '1',
    attestedFirmware: hardenedReport().firmwareVersion ?? null,
    attestationResultId: '00000000-0000-4000-8000-000000000001',
    observed: { hardeningReport: true },
    ...over,
  });
  const clock = { now: NOW, intervalSeconds: INTERVAL };

  it('a first score changes the device, is recorded, and is not below target when the target is met', () => {
    const s = subject();
    const { write, change } = planWrite(s, scoreSubject(s, product, clock), product.target, 'attestation');
    expect(write).toMatchObject({
      history: true,
      update: true,
      belowTarget: false,
      evidenced: vector(4),
      reportId: 'r1',
      attestationResultId: '00000000-0000-4000-8000-000000000001',
      firmwareRelease: '2.4.1',
      rulesVersion: 'fact-rules.v2',
      catalogVersion: '2019-1.1',
    });
    expect(write.items).toMatchObject({ attestation: 'affirming', catalogVersion: '2019-1.1', counts: { contradicted: 0 } });
    expect(change).toMatchObject({ becameBelowTarget: false, audience: ['m', 'o'] });
  });

  it('an unchanged score is recorded for a new report only, and changes nothing', () => {
    const s = subject({ slEvidenced: vector(4), slDeclared: vector(4), belowTarget: false });
    const score = scoreSubject(s, product, clock);
    expect(planWrite(s, score, product.target, 'attestation')).toMatchObject({ write: { history: false, update: false }, change: null });
    expect(planWrite(s, score, product.target, 'report')).toMatchObject({ write: { history: true, update: false }, change: null });
    expect(planWrite(s, score, product.target, 'attestation', true).write.history).toBe(true);
  });

  it('a stale attestation contradicts the declared CR 3.4 and the device becomes below target', () => {
    const s = subject({ affirmedAt: ago(3600), slEvidenced: vector(4), slDeclared: vector(4), belowTarget: false });
    const score = scoreSubject(s, product, clock);
    expect(score.attestation.status).toBe('stale');
    expect(score.items.find((i) => i.id === 'CR 3.4')?.status).toBe('contradicted');
    const { write, change } = planWrite(s, score, product.target, 'attestation-stale');
    // Stale: the reported facts fall back in every FR, and CR 3.4 is contradicted.
    expect(write).toMatchObject({ update: true, belowTarget: true, evidenced: vector(0), declared: { FR3: 0 } });
    expect(change?.becameBelowTarget).toBe(true);
  });

  it('a device without a report is scored on no facts', () => {
    const s = subject({ report: null, reportId: null, observed: { hardeningReport: false }, attestationStatus: null, attestationAt: null, affirmedAt: null });
    const score = scoreSubject(s, product, clock);
    expect(score.evidenced).toEqual(vector(0));
    expect(score.counts.evidenced).toBe(0);
    expect(score.report).toEqual({ counts: false, fallback: 'no-report' });
    expect(EMPTY_REPORT).toEqual({ schemaVersion: 1 });
  });
});

describe('ScorerCache', () => {
  it('builds one scorer per component type and resolves a product once', () => {
    const cache = new ScorerCache();
    expect(cache.scorer('EDR')).toBe(cache.scorer('EDR'));
    const a = cache.declaredFor('p', 'EDR', ['CR 1.1']);
    expect(cache.declaredFor('p', 'EDR', ['CR 1.1'])).toBe(a);
    expect(cache.declaredFor('p', 'EDR', ['CR 1.1', 'CR 1.2'])).not.toBe(a);
  });

  it('leaves out declared ids the catalog does not know, with a warning', () => {
    const warnings: string[] = [];
    const cache = new ScorerCache(loadCatalog(), loadFactRules(), (m) => warnings.push(m));
    const d = cache.declaredFor('p', 'EDR', ['CR 1.1', 'CR 99.9']);
    expect(d.ids).toEqual(['CR 1.1']);
    expect(warnings[0]).toContain('CR 99.9');
  });

  it('resolves the statement of applicability with the declarations, again when it changes', () => {
    const cache = new ScorerCache();
    const soa = [{ requirement: 'CR 1.14', applicable: false, justification: 'no symmetric keys' }];
    const a = cache.declaredFor('p', 'EDR', [], soa);
    expect([...a.notApplicable.keys()]).toEqual(['CR 1.14', 'CR 1.14 RE(1)']);
    expect(cache.declaredFor('p', 'EDR', [], soa)).toBe(a);
    expect(cache.declaredFor('p', 'EDR', [], []).notApplicable.size).toBe(0);
  });

  it('scores with the report age limit it was given', () => {
    const cache = new ScorerCache(loadCatalog(), loadFactRules(), undefined, { maxReportAgeSeconds: 60 });
    const s = cache.scorer('EDR')({ facts: hardenedReport(), attestation: { status: 'affirming', firmwareVersion: '2.4.1' }, reportedAt: NOW.getTime() - 120_000, now: NOW });
    expect(s.report.fallback).toBe('stale-report');
  });
});

describe('observedFacts: what the service saw, from the stored rows', () => {
  const none = { report: null, cert_current: false, cert_renewed: false, tls_versions: null, ciphers: null, mutual_tls_at: null, tpm_quote_at: null, attested_releases: null };
  it('says nothing it did not see', () => {
    expect(observedFacts(none, false)).toEqual({ hardeningReport: false });
  });
  it('maps certificates, TLS, quotes and releases', () => {
    const seen = observedFacts(
      { ...none, cert_current: true, cert_renewed: true, tls_versions: ['1.3'], ciphers: ['TLS_AES_128_GCM_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'], mutual_tls_at: NOW, tpm_quote_at: NOW, attested_releases: ['1.0.0', '1.1.0'] },
      true,
    );
    expect(seen).toEqual({ hardeningReport: true, fleetguardCertificate: true, certificateRenewed: true, mutualTls: true, tlsVersions: ['1.3'], aeadCiphers: true, tpmResidentKey: true, firmwareUpdated: true });
    expect(observedFacts({ ...none, ciphers: ['AES128-SHA'], attested_releases: ['1.0.0'] }, true)).toEqual({ hardeningReport: true, aeadCiphers: false });
  });
});

describe('the catalog as served', () => {
  it('gives every uncertain entry a note', () => {
    const shipped = loadCatalog();
    const view = toCatalogView(shipped, loadFactRules());
    expect(view.uncertain.length).toBeGreaterThan(0);
    expect(view.uncertain.every((u) => u.note.length > 0)).toBe(true);
    expect(view.items).toEqual(shipped.items); // the shipped catalog has its notes already

    const silent: Catalog = {
      ...shipped,
      items: [{ id: 'CR 9.9', fr: 1, title: 't', sl: 1, enhancements: [{ id: 'CR 9.9 RE(1)', title: 'r', sl: 2, uncertain: true }], uncertain: true }],
    };
    const v = toCatalogView(silent, loadFactRules());
    expect(v.items[0]).toMatchObject({ note: UNCERTAIN_FALLBACK_NOTE, enhancements: [{ note: UNCERTAIN_FALLBACK_NOTE }] });
    expect(v.uncertain.map((u) => u.id)).toEqual(['CR 9.9', 'CR 9.9 RE(1)']);
  });
});
