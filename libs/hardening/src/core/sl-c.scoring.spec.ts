import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { applicableItems, COMPONENT_TYPES, FR_KEYS, loadCatalog, type ComponentType, type FrKey, type SlVector } from './catalog';
import { ATTESTATION_STATUSES, type AttestationStatus } from './fact-condition.evaluator';
import { compileFactRules, loadFactRules } from './fact-rules';
import { validateHardeningReport, type HardeningReport } from './hardening-report.schema';
import { createScorer, scoreDevice, type DeviceScore, type ItemStatus, type Scorer } from './sl-c.scoring';
import type { ObservedFacts } from './observed-facts';
import { hardenedReport, withFacts } from '@fleetguard/device-kit';
import { hardeningReportArbitrary } from './testing/hardening-report.arbitrary';

const catalog = loadCatalog();
const rules = loadFactRules();
const scorers = Object.fromEntries(COMPONENT_TYPES.map((t) => [t, createScorer(catalog, rules, t)])) as Record<ComponentType, Scorer>;
/** An affirming appraisal that attested the factory report's firmware, and a report the service received. */
const affirming = { status: 'affirming' as const, firmwareVersion: hardenedReport().firmwareVersion };
const trusted = { attestation: affirming, observed: { hardeningReport: true } };

const vec = (level: number, overrides: Partial<SlVector> = {}): SlVector =>
  ({ ...Object.fromEntries(FR_KEYS.map((k) => [k, level])), ...overrides }) as SlVector;
const statusOf = (score: DeviceScore, id: string) => score.items.find((i) => i.id === id)?.status;
const item = (score: DeviceScore, id: string) => {
  const found = score.items.find((i) => i.id === id);
  if (!found) throw new Error(`${id} not scored`);
  return found;
};
const allIds = (type: ComponentType) => applicableItems(catalog, type).map((i) => i.id);

describe('scoreDevice / createScorer', () => {
  describe('a fully hardened device with an affirming attestation', () => {
    it.each(COMPONENT_TYPES)('%s: every item evidenced, 4 in both vectors', (type) => {
      const score = scorers[type]({ facts: hardenedReport(), ...trusted });
      expect(score.items.filter((i) => i.status !== 'evidenced')).toEqual([]);
      expect(score.evidenced).toEqual(vec(4));
      expect(score.declared).toEqual(vec(4));
      expect(score.decidedByUncertain).toEqual({ evidenced: {}, declared: {} });
      expect(score.items.map((i) => i.id)).toEqual(allIds(type));
    });
  });

  describe('one unmet SL-1 item drops its FR to 0', () => {
    it.each<[string, Record<string, unknown>, FrKey]>([
      ['CR 1.5', { defaultCredentialsChanged: undefined }, 'FR1'],
      ['CR 2.10', { 'auditLogging.failureAlert': undefined }, 'FR2'],
      ['CR 3.5', { inputValidation: undefined }, 'FR3'],
      ['CR 4.1', { 'storageEncryption.enabled': undefined }, 'FR4'],
      ['CR 5.1', { networkSegmentation: undefined }, 'FR5'],
      ['CR 6.1', { 'auditLogging.readAccess': undefined }, 'FR6'],
      ['CR 7.2', { resourceLimits: undefined }, 'FR7'],
    ])('%s missing → %s = 0, other FRs 4', (id, patch, fr) => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), patch), ...trusted });
      expect(item(score, id)).toMatchObject({ status: 'missing', sl: 1 });
      expect(score.evidenced).toEqual(vec(4, { [fr]: 0 }));
      expect(score.declared).toEqual(vec(4, { [fr]: 0 }));
    });
  });

  describe('an unmet RE caps its FR below the RE level', () => {
    it.each<[string, Record<string, unknown>, FrKey, number]>([
      ['CR 1.1 RE(2)', { 'accounts.mfa': undefined }, 'FR1', 2],
      ['CR 4.2 RE(1)', { 'dataErasure.sharedMemory': undefined }, 'FR4', 2],
      ['CR 6.1 RE(1)', { 'auditLogging.forwarding': undefined }, 'FR6', 2],
      ['CR 2.1 RE(4)', { 'authorization.dualApproval': undefined }, 'FR2', 3],
      ['EDR 3.14 RE(1)', { 'secureBoot.verified': undefined }, 'FR3', 1],
    ])('%s missing → %s = %i', (id, patch, fr, level) => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), patch), ...trusted });
      expect(statusOf(score, id)).toBe('missing');
      expect(score.evidenced).toEqual(vec(4, { [fr]: level }));
    });

    it('an SL-3 RE that is merely declared counts in the declared vector only', () => {
      const score = scorers.EDR({
        facts: withFacts(hardenedReport(), { 'accounts.mfa': undefined }),
        ...trusted,
        declared: ['CR 1.1 RE(2)'],
      });
      expect(statusOf(score, 'CR 1.1 RE(2)')).toBe('declared');
      expect(score.evidenced.FR1).toBe(2);
      expect(score.declared.FR1).toBe(4);
    });
  });

  describe('component types pick their own items', () => {
    it.each<[ComponentType, string[], string[]]>([
      ['EDR', ['EDR 2.4', 'EDR 2.13', 'EDR 3.2', 'EDR 3.10', 'EDR 3.11', 'EDR 3.12', 'EDR 3.13', 'EDR 3.14 RE(1)'], ['NDR', 'HDR', 'SAR']],
      ['HDR', ['HDR 2.4', 'HDR 2.13', 'HDR 3.2', 'HDR 3.2 RE(1)', 'HDR 3.10', 'HDR 3.14'], ['NDR', 'EDR', 'SAR']],
      ['NDR', ['NDR 1.6', 'NDR 1.6 RE(1)', 'NDR 1.13', 'NDR 2.4', 'NDR 3.2', 'NDR 3.14', 'NDR 5.2 RE(3)', 'NDR 5.3'], ['EDR', 'HDR', 'SAR']],
      ['SAR', ['SAR 2.4', 'SAR 2.4 RE(1)', 'SAR 3.2'], ['NDR', 'EDR', 'HDR']],
    ])('%s', (type, included, otherPrefixes) => {
      const ids = allIds(type);
      for (const id of included) expect(ids).toContain(id);
      for (const prefix of otherPrefixes) expect(ids.filter((id) => id.startsWith(`${prefix} `))).toEqual([]);
      // Placeholders and "no component requirement" CRs are never scored.
      for (const id of ['CR 1.6', 'CR 1.13', 'CR 2.3', 'CR 2.4', 'CR 3.2', 'CR 3.10', 'CR 3.14', 'CR 5.2', 'CR 5.4', 'CR 7.5']) {
        expect(ids).not.toContain(id);
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('SAR has no 2.13 / 3.10-3.14 items at all (no SAR delegate exists)', () => {
      const ids = allIds('SAR');
      expect(ids.filter((id) => / (2\.13|3\.1[0-4])\b/.test(id))).toEqual([]);
    });
  });

  describe('delegated CRs', () => {
    it('EDR 3.14 is scored once, in place of CR 3.14, and decides FR3', () => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { 'secureBoot.enabled': false }), ...trusted });
      expect(score.items.filter((i) => / 3\.14$/.test(i.id)).map((i) => i.id)).toEqual(['EDR 3.14']);
      expect(statusOf(score, 'EDR 3.14')).toBe('contradicted');
      expect(score.evidenced.FR3).toBe(0);
    });

    it('declaring the placeholder CR id stands for the component type’s own item', () => {
      const scorer = scorers.EDR;
      const decl = scorer.declare(['CR 3.14', 'CR 1.6', 'CR 2.3', 'NDR 5.2']);
      expect(decl.ignored).toEqual(['CR 1.6', 'CR 2.3', 'NDR 5.2']);
      const score = scorer({ facts: withFacts(hardenedReport(), { 'secureBoot.enabled': undefined }), declared: decl });
      expect(statusOf(score, 'EDR 3.14')).toBe('declared');
      expect(score.ignoredDeclarations).toEqual(['CR 1.6', 'CR 2.3', 'NDR 5.2']);
    });

    it('an id that is not in the catalog is a DomainError', () => {
      expect(() => scorers.EDR.declare(['CR 9.9'])).toThrow(DomainError);
      expect(() => scorers.EDR({ facts: hardenedReport(), declared: ['CR 1.1', 'bogus'] })).toThrow(/not in catalog 2019-1.1: "bogus"/);
    });
  });

  describe('statement of applicability (the product decides, with a justification)', () => {
    const na = (...ids: string[]) => ids.map((requirement) => ({ requirement, applicable: false, justification: `no ${requirement} function` }));

    it.each<[ComponentType, string[], string[]]>([
      ['EDR', ['CR 1.14'], ['CR 1.14', 'CR 1.14 RE(1)']],
      ['NDR', ['CR 2.2', 'NDR 1.6'], ['CR 2.2', 'NDR 1.6', 'NDR 1.6 RE(1)']],
      ['EDR', ['CR 1.12', 'CR 2.5', 'CR 2.6', 'CR 2.12'], ['CR 1.12', 'CR 2.5', 'CR 2.6', 'CR 2.12']],
      ['EDR', ['CR 2.4'], ['EDR 2.4', 'EDR 2.4 RE(1)']],
      ['NDR', ['NDR 5.2', 'NDR 5.3'], ['NDR 5.2', 'NDR 5.2 RE(1)', 'NDR 5.2 RE(2)', 'NDR 5.2 RE(3)', 'NDR 5.3']],
    ])('%s %j → not applicable with the justification; REs sharing the condition follow', (type, stated, ids) => {
      const facts = withFacts(hardenedReport(), { 'wireless.present': undefined, userInterface: undefined, 'mobileCode.used': undefined, 'networkBoundary.zoneBoundary': undefined, 'authentication.methods': ['password', 'public-key'] });
      const score = scorers[type]({ facts, ...trusted, declared: scorers[type].declare([], na(...stated)) });
      for (const id of ids) {
        expect(item(score, id)).toMatchObject({ status: 'not-applicable', grade: 'declared' });
        expect(item(score, id).reason).toMatch(/^not applicable by the product's statement of applicability: no /);
      }
      expect(score.items.filter((i) => i.status === 'not-applicable').map((i) => i.id).sort()).toEqual([...ids].sort());
      expect(score.evidenced).toEqual(vec(4));
    });

    it('CR 2.12 RE(1) covers every user, so it does not follow CR 2.12 without a human interface', () => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { userInterface: undefined }), ...trusted, declared: scorers.EDR.declare([], na('CR 2.12')) });
      expect(statusOf(score, 'CR 2.12')).toBe('not-applicable');
      expect(statusOf(score, 'CR 2.12 RE(1)')).toBe('evidenced');
      expect(() => scorers.EDR.declare([], na('CR 2.12 RE(1)'))).toThrow(/CR 2.12 RE\(1\) applies to every EDR component/);
    });

    it('device-reported "no UI", "no authentication" and "no crypto" make nothing not applicable', () => {
      const facts = withFacts(hardenedReport(), {
        userInterface: { local: false, remote: false },
        'authentication.methods': [],
        'authentication.required': false,
        usesPki: false,
        'tls.versions': [],
        'storageEncryption.enabled': false,
        'wireless.present': false,
      });
      const score = scorers.EDR({ facts, ...trusted });
      expect(score.counts['not-applicable']).toBe(0);
      expect(statusOf(score, 'CR 1.8')).not.toBe('not-applicable');
    });

    it('a product cannot make CR 1.8 / 1.9 / 4.3 not applicable for a device on Fleetguard\'s PKI speaking mutual TLS', () => {
      const decl = scorers.EDR.declare([], na('CR 1.8', 'CR 1.9', 'CR 4.3', 'CR 1.12'));
      const facts = withFacts(hardenedReport(), { usesPki: undefined, 'authentication.methods': ['password'], 'tls.versions': undefined, 'storageEncryption.enabled': undefined, 'userInterface.local': undefined });
      const off = scorers.EDR({ facts, ...trusted, declared: decl });
      expect(['CR 1.8', 'CR 1.9', 'CR 4.3', 'CR 1.12'].map((id) => statusOf(off, id))).toEqual(['not-applicable', 'not-applicable', 'not-applicable', 'not-applicable']);
      const seen = scorers.EDR({ facts, ...trusted, observed: { hardeningReport: true, mutualTls: true, fleetguardCertificate: true }, declared: decl });
      for (const id of ['CR 1.8', 'CR 1.9', 'CR 4.3']) {
        expect(statusOf(seen, id)).not.toBe('not-applicable');
        expect(item(seen, id).reason).toMatch(/applicable although the product says not/);
      }
      expect(statusOf(seen, 'CR 1.12')).toBe('not-applicable');
    });

    it('refuses unconditional items, unknown ids, other types\' items and missing justifications', () => {
      const bad = (list: unknown) => () => scorers.EDR.declare([], list as never);
      expect(bad(na('CR 1.1'))).toThrow(expect.objectContaining({ code: 'hardening.invalid-applicability' }));
      expect(bad(na('CR 9.9'))).toThrow(/CR 9.9 is not in catalog/);
      expect(bad(na('NDR 1.6'))).toThrow(/NDR 1.6 is not scored for EDR/);
      expect(bad([{ requirement: 'CR 1.14', applicable: false, justification: ' ' }])).toThrow(/justification/);
      expect(bad([{ requirement: 'CR 1.14', applicable: 'no', justification: 'x' }])).toThrow(/applicable must be true or false/);
      expect(bad([...na('CR 1.14'), ...na('CR 1.14')])).toThrow(/listed twice/);
      // An explicit "applicable" entry is accepted and changes nothing.
      expect(scorers.EDR.declare([], [{ requirement: 'CR 1.14', applicable: true, justification: 'uses symmetric keys' }]).notApplicable.size).toBe(0);
    });
  });

  describe('attestation drives the integrity items', () => {
    const integrity = ['CR 3.4', 'CR 3.4 RE(1)', 'EDR 3.10', 'EDR 3.10 RE(1)', 'EDR 3.14', 'EDR 3.14 RE(1)'];
    it.each<[AttestationStatus | undefined, ItemStatus, number, number]>([
      ['affirming', 'evidenced', 4, 4],
      ['contraindicated', 'contradicted', 0, 0],
      ['stale', 'contradicted', 0, 0],
      ['warning', 'declared', 0, 4],
      ['none', 'declared', 0, 4],
      [undefined, 'declared', 0, 4],
    ])('%s → integrity items %s, FR3 evidenced %i / declared %i (all declared)', (status, expected, fr3E, fr3D) => {
      const scorer = scorers.EDR;
      const score = scorer({
        facts: hardenedReport(),
        attestation: status ? { status, firmwareVersion: '2.4.1' } : undefined,
        observed: { hardeningReport: true },
        declared: scorer.declare(allIds('EDR')),
      });
      for (const id of integrity) expect(statusOf(score, id)).toBe(expected);
      expect(score.evidenced.FR3).toBe(fr3E);
      expect(score.declared.FR3).toBe(fr3D);
      // Not affirming: the reported facts fall back in every FR, not only FR3.
      expect(score.evidenced).toEqual(status === 'affirming' ? vec(4) : vec(0));
      expect(score.declared).toEqual(vec(4, { FR3: fr3D as 0 }));
    });

    it.each(['HDR', 'NDR'] as const)('%s: a contraindicated attestation contradicts its 3.14 and 3.10', (type) => {
      const score = scorers[type]({ facts: hardenedReport(), attestation: { status: 'contraindicated' } });
      expect(statusOf(score, `${type} 3.14`)).toBe('contradicted');
      expect(statusOf(score, `${type} 3.10`)).toBe('contradicted');
      expect(item(score, `${type} 3.14`).facts).toEqual([{ fact: 'attestation.status', value: 'contraindicated' }]);
    });

    it('names the attestation in the reason', () => {
      const score = scorers.EDR({ facts: hardenedReport(), attestation: { status: 'stale' } });
      expect(item(score, 'CR 3.4').reason).toBe(
        'attestation is stale, so software integrity is not shown (attestation.status = "stale")',
      );
    });

    it('an affirming attestation older than the limit counts as stale; a fresh one restores FR3', () => {
      const scorer = createScorer(catalog, rules, 'EDR', { maxAttestationAgeSeconds: 3600 });
      const now = Date.parse('2025-06-01T12:00:00Z');
      const old = scorer({ facts: hardenedReport(), ...trusted, attestation: { ...affirming, at: '2025-06-01T10:00:00Z' }, now });
      expect(old.attestation).toEqual({ status: 'stale', reported: 'affirming', at: '2025-06-01T10:00:00.000Z' });
      expect(statusOf(old, 'EDR 3.14')).toBe('contradicted');
      expect(old.evidenced.FR3).toBe(0);
      const fresh = scorer({ facts: hardenedReport(), ...trusted, attestation: { ...affirming, at: new Date(now - 60_000) }, now });
      expect(fresh.attestation.status).toBe('affirming');
      expect(fresh.evidenced.FR3).toBe(4);
    });

    it('rejects an unknown status or an unreadable time', () => {
      expect(() => scorers.EDR({ facts: hardenedReport(), attestation: { status: 'ok' as AttestationStatus } })).toThrow(DomainError);
      const scorer = createScorer(catalog, rules, 'EDR', { maxAttestationAgeSeconds: 60 });
      expect(() => scorer({ facts: hardenedReport(), attestation: { status: 'affirming', at: 'yesterday' } })).toThrow(
        /attestation time is not a valid time/,
      );
    });
  });

  describe('declared requirements contradicted by facts', () => {
    it.each<[string, Record<string, unknown>, string, FrKey, number, string]>([
      ['open JTAG', { 'debugInterfaces.jtag': 'enabled' }, 'EDR 2.13', 'FR2', 1, 'debugInterfaces.jtag'],
      ['default credentials', { defaultCredentialsChanged: false }, 'CR 1.5', 'FR1', 0, 'defaultCredentialsChanged'],
      ['telnet', { services: [{ name: 'telnet', port: 23, protocol: 'tcp', encrypted: false }] }, 'CR 7.7', 'FR7', 0, 'services[0].name'],
      ['TLS 1.0', { 'tls.versions': ['1.0', '1.2'] }, 'CR 3.1', 'FR3', 0, 'tls.versions'],
      ['short passwords', { 'passwordPolicy.minLength': 6 }, 'CR 1.7', 'FR1', 0, 'passwordPolicy.minLength'],
    ])('%s: %s is contradicted in both vectors', (_name, patch, id, fr, level, fact) => {
      const scorer = scorers.EDR;
      const score = scorer({ facts: withFacts(hardenedReport(), patch), ...trusted, declared: allIds('EDR') });
      const it = item(score, id);
      expect(it.status).toBe('contradicted');
      expect(it.facts?.map((f) => f.fact)).toContain(fact);
      expect(it.reason).toContain(fact);
      expect(score.evidenced[fr]).toBe(level);
      expect(score.declared[fr]).toBe(level);
    });
  });

  describe('uncertain items', () => {
    it('flags an unmet uncertain item that binds the level (EDR 3.2)', () => {
      const facts = withFacts(hardenedReport(), { malwareProtection: undefined, updateSignatureCheck: undefined });
      const score = scorers.EDR({ facts, ...trusted, observed: { hardeningReport: true, firmwareUpdated: true } });
      expect(item(score, 'EDR 3.2')).toMatchObject({ status: 'missing', uncertain: true });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.decidedByUncertain.evidenced).toEqual({ FR3: ['EDR 3.2'] });
    });

    it('does not flag it when another unmet item binds the level anyway', () => {
      const facts = withFacts(hardenedReport(), { malwareProtection: undefined, updateSignatureCheck: undefined, inputValidation: undefined });
      const score = scorers.EDR({ facts, ...trusted });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.decidedByUncertain.evidenced).toEqual({});
    });

    it('flags per vector: declared items are met in the declared vector', () => {
      const facts = withFacts(hardenedReport(), { secureErrorHandling: undefined });
      const score = scorers.HDR({ facts, ...trusted, declared: ['CR 3.7'] });
      expect(score.decidedByUncertain).toEqual({ evidenced: { FR3: ['CR 3.7'] }, declared: {} });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.declared.FR3).toBe(4);
    });

    it('flags an uncertain RE (HDR 3.2 RE(1)) capping at 1', () => {
      const score = scorers.HDR({ facts: withFacts(hardenedReport(), { malwareProtectionVersion: undefined }), ...trusted });
      expect(score.evidenced.FR3).toBe(1);
      expect(score.decidedByUncertain.evidenced).toEqual({ FR3: ['HDR 3.2 RE(1)'] });
    });

    it('a met uncertain item is never flagged', () => {
      const score = scorers.EDR({ facts: hardenedReport(), ...trusted });
      expect(item(score, 'EDR 3.2').uncertain).toBe(true);
      expect(score.decidedByUncertain.evidenced).toEqual({});
    });
  });

  describe('statuses and reasons', () => {
    it('no report at all: everything missing, vectors 0, CR 7.6 RE(1) included', () => {
      const score = scorers.EDR({ facts: { schemaVersion: 1 }, attestation: affirming });
      expect(score.evidenced).toEqual(vec(0));
      expect(score.declared).toEqual(vec(0));
      expect(statusOf(score, 'CR 7.6 RE(1)')).toBe('missing');
      expect(item(score, 'CR 1.1')).toMatchObject({
        reason: 'not declared, and the facts do not show it (authentication.required = absent)',
        rule: 'human-authentication',
        facts: [{ fact: 'authentication.required', value: undefined }],
      });
    });

    it('evidenced reasons name the deciding facts', () => {
      const score = scorers.EDR({ facts: hardenedReport(), ...trusted });
      expect(item(score, 'CR 2.5')).toMatchObject({
        reason: 'sessions lock within 15 minutes of inactivity (sessionLock.enabled = true, sessionLock.timeoutSeconds = 600)',
        rule: 'session-lock',
      });
      expect(item(score, 'CR 1.5 RE(1)').reason).toBe('keys are kept in hardware (keyStorage = "tpm")');
      expect(item(score, 'EDR 3.2').facts).toEqual([{ fact: 'malwareProtection', value: true }]);
    });

    it('a declared item names the facts it still lacks', () => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { 'secureBoot.verified': undefined }), ...trusted, declared: ['EDR 3.14 RE(1)'] });
      expect(item(score, 'EDR 3.14 RE(1)')).toMatchObject({
        status: 'declared',
        reason: 'declared by the product, and the facts do not show it (secureBoot.verified = absent)',
        grade: 'declared',
      });
    });

    it('a frozen declared list is resolved once and reused', () => {
      const declared = Object.freeze(['CR 1.1', 'CR 3.14']);
      const a = scorers.EDR({ facts: { schemaVersion: 1 }, declared });
      const b = scorers.EDR({ facts: { schemaVersion: 1 }, declared });
      expect(statusOf(a, 'EDR 3.14')).toBe('declared');
      expect(a.ignoredDeclarations).toBe(b.ignoredDeclarations);
    });

    it('counts statuses, and serializes with items but without internals', () => {
      const facts = withFacts(hardenedReport(), { inputValidation: false, 'authentication.methods': ['password', 'public-key'], 'symmetricKeys.uniquePerDevice': undefined, 'accounts.mfa': undefined });
      const declared = scorers.EDR.declare(['CR 1.1 RE(2)'], [{ requirement: 'CR 1.14', applicable: false, justification: 'no symmetric keys' }]);
      const score = scorers.EDR({ facts, ...trusted, declared });
      expect(score.counts).toEqual({ evidenced: 79, declared: 1, contradicted: 1, missing: 0, 'not-applicable': 2 });
      expect(Object.values(score.counts).reduce((a, b) => a + b)).toBe(allIds('EDR').length);
      const json = JSON.parse(JSON.stringify(score));
      expect(Object.keys(json).sort()).toEqual(
        ['attestation', 'catalogVersion', 'componentType', 'counts', 'declared', 'decidedByUncertain', 'evidenced', 'ignoredDeclarations', 'items', 'report', 'rulesVersion'].sort(),
      );
      expect(json.items).toHaveLength(allIds('EDR').length);
      expect(json.items.find((i: { id: string }) => i.id === 'CR 3.5')).toEqual({
        id: 'CR 3.5',
        fr: 3,
        sl: 1,
        status: 'contradicted',
        grade: 'reported',
        reason: 'inputs are not validated (inputValidation = false)',
        rule: 'input-validation',
        facts: [{ fact: 'inputValidation', value: false }],
      });
      expect(score.items).toBe(score.items); // built once
    });

    it('refuses declared requirements resolved by another scorer', () => {
      expect(() => scorers.EDR({ facts: hardenedReport(), declared: scorers.NDR.declare([]) })).toThrow(/another scorer/);
    });
  });

  describe('scoreDevice', () => {
    it('uses the shipped catalog and rules by default and caches the scorer', () => {
      const a = scoreDevice({ componentType: 'NDR', facts: hardenedReport(), ...trusted, declared: [] });
      expect(a).toMatchObject({ componentType: 'NDR', catalogVersion: '2019-1.1', rulesVersion: 'fact-rules.v2' });
      expect(a.evidenced).toEqual(vec(4));
    });

    it('rejects an unknown component type', () => {
      expect(() => scoreDevice({ componentType: 'PLC' as ComponentType, facts: hardenedReport() })).toThrow(
        expect.objectContaining({ code: 'hardening.invalid-component-type' }),
      );
    });
  });
});

const observedArbitrary: fc.Arbitrary<ObservedFacts> = fc.record(
  {
    hardeningReport: fc.boolean(),
    mutualTls: fc.boolean(),
    fleetguardCertificate: fc.boolean(),
    certificateRenewed: fc.boolean(),
    tlsVersions: fc.uniqueArray(fc.constantFrom('1.0' as const, '1.1' as const, '1.2' as const, '1.3' as const)),
    aeadCiphers: fc.boolean(),
    tpmResidentKey: fc.boolean(),
    firmwareUpdated: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('the compiled program agrees with the rules’ plain meaning (property)', () => {
  const compiled = compileFactRules(rules, catalog);
  const TRUE = 2;
  const FALSE = 0;

  /**
   * Status and levels straight from the definitions, with the evaluator's closures: a product-NA
   * item stays applicable when its condition holds; without a counting report only the
   * observations (and the attestation) can evidence an item.
   */
  function reference(type: ComponentType, report: HardeningReport, att: AttestationStatus, observed: ObservedFacts, counts: boolean, declared: Set<string>, na: Set<string>) {
    const items = applicableItems(catalog, type);
    const facts = { ...report, observed };
    const observedOnly = { observed };
    const statuses = items.map<ItemStatus>((it) => {
      const applies = it.appliesIf ? compiled.applicability.get(it.appliesIf) : undefined;
      if (na.has(it.id) && !(applies && applies.evaluate(facts, att) === TRUE)) return 'not-applicable';
      const r = compiled.byItem.get(it.id);
      const evidenced = () => r!.evidenced.evaluate(facts, att) === TRUE && (counts || r!.evidenced.evaluate(observedOnly, att) === TRUE);
      if (r?.contradicted) {
        if (r.contradicted.evaluate(facts, att) === TRUE) return 'contradicted';
        if (evidenced()) return 'evidenced';
      } else if (r) {
        if (r.evidenced.evaluate(facts, att) === FALSE) return 'contradicted';
        if (evidenced()) return 'evidenced';
      }
      return declared.has(it.id) ? 'declared' : 'missing';
    });
    // SL-C(FR): the largest n ≤ 4 such that every applicable item with sl ≤ n is met; else 0.
    const level = (fr: number, met: (s: ItemStatus) => boolean) => {
      for (let n = 4; n >= 1; n--) {
        const ok = items.every((it, i) => it.fr !== fr || it.sl > n || statuses[i] === 'not-applicable' || met(statuses[i]));
        if (ok) return n;
      }
      return 0;
    };
    const vector = (met: (s: ItemStatus) => boolean) =>
      Object.fromEntries(FR_KEYS.map((k, i) => [k, level(i + 1, met)])) as SlVector;
    return {
      statuses,
      evidenced: vector((s) => s === 'evidenced'),
      declared: vector((s) => s === 'evidenced' || s === 'declared'),
    };
  }

  it('for random valid reports, attestations and declarations, on every component type', () => {
    fc.assert(
      fc.property(
        hardeningReportArbitrary(),
        fc.constantFrom(...COMPONENT_TYPES),
        fc.constantFrom(...ATTESTATION_STATUSES),
        fc.infiniteStream(fc.boolean()),
        observedArbitrary,
        fc.boolean(),
        (facts, type, status, coin, observed, sameFirmware) => {
          expect(validateHardeningReport(facts)).toBe(facts);
          const ids = allIds(type);
          const declared = new Set(ids.filter(() => coin.next().value));
          const conditional = applicableItems(catalog, type).filter((i) => i.appliesIf && !(i.parent && i.appliesIf === applicableItems(catalog, type).find((p) => p.id === i.parent)?.appliesIf));
          const stated = conditional.filter(() => coin.next().value).map((i) => ({ requirement: i.id, applicable: false, justification: 'n/a' }));
          const decl = scorers[type].declare([...declared], stated);
          const firmwareVersion = sameFirmware ? facts.firmwareVersion : 'other';
          const counts = status === 'affirming' && observed.hardeningReport !== false && typeof firmwareVersion === 'string' && facts.firmwareVersion === firmwareVersion;
          const ref = reference(type, facts, status, observed, counts, declared, new Set(decl.notApplicable.keys()));
          const score = scorers[type]({ facts, attestation: { status, firmwareVersion }, observed, declared: decl });
          expect(score.report.counts).toBe(counts);
          expect(score.items.map((i) => i.status)).toEqual(ref.statuses);
          const table = score.table();
          expect(table.statuses).toEqual(ref.statuses);
          expect(table.grades).toEqual(score.items.map((i) => i.grade));
          expect(score.evidenced).toEqual(ref.evidenced);
          expect(score.declared).toEqual(ref.declared);
          expect(score.counts.contradicted).toBe(ref.statuses.filter((s) => s === 'contradicted').length);
        },
      ),
      { numRuns: 400 },
    );
  });
});
