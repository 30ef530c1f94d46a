import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { applicableItems, COMPONENT_TYPES, FR_KEYS, loadCatalog, type ComponentType, type FrKey, type SlVector } from './catalog';
import { ATTESTATION_STATUSES, type AttestationStatus } from './fact-condition.evaluator';
import { compileFactRules, loadFactRules } from './fact-rules';
import { validateHardeningReport, type HardeningReport } from './hardening-report.schema';
import { createScorer, scoreDevice, type DeviceScore, type ItemStatus, type Scorer } from './sl-c.scoring';
import { hardenedReport, withFacts } from './testing/hardening-report.factory';
import { hardeningReportArbitrary } from './testing/hardening-report.arbitrary';

const catalog = loadCatalog();
const rules = loadFactRules();
const scorers = Object.fromEntries(COMPONENT_TYPES.map((t) => [t, createScorer(catalog, rules, t)])) as Record<ComponentType, Scorer>;
const affirming = { status: 'affirming' as const };

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
      const score = scorers[type]({ facts: hardenedReport(), attestation: affirming });
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
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), patch), attestation: affirming });
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
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), patch), attestation: affirming });
      expect(statusOf(score, id)).toBe('missing');
      expect(score.evidenced).toEqual(vec(4, { [fr]: level }));
    });

    it('an SL-3 RE that is merely declared counts in the declared vector only', () => {
      const score = scorers.EDR({
        facts: withFacts(hardenedReport(), { 'accounts.mfa': undefined }),
        attestation: affirming,
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
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { 'secureBoot.enabled': false }), attestation: affirming });
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
      expect(() => scorers.EDR({ facts: hardenedReport(), declared: ['CR 1.1', 'bogus'] })).toThrow(/not in catalog 2019-1: "bogus"/);
    });
  });

  describe('appliesIf', () => {
    it.each<[ComponentType, Record<string, unknown>, string[]]>([
      ['EDR', { usesPki: false, 'authentication.methods': ['password', 'symmetric-key'] }, ['CR 1.8', 'CR 1.9', 'CR 1.9 RE(1)']],
      ['EDR', { 'authentication.methods': ['password', 'public-key'] }, ['CR 1.14', 'CR 1.14 RE(1)']],
      ['EDR', { 'wireless.present': false }, ['CR 2.2']],
      ['NDR', { 'wireless.present': false }, ['CR 2.2', 'NDR 1.6', 'NDR 1.6 RE(1)']],
      ['EDR', { 'userInterface.local': false }, ['CR 1.12']],
      ['EDR', { 'userInterface.local': false, 'userInterface.remote': false }, ['CR 1.12', 'CR 2.5', 'CR 2.6', 'CR 2.12', 'CR 2.12 RE(1)']],
      ['EDR', { 'mobileCode.used': false }, ['EDR 2.4', 'EDR 2.4 RE(1)']],
      ['EDR', { connectsToProcess: false }, ['CR 3.6']],
      ['NDR', { 'networkBoundary.zoneBoundary': false }, ['NDR 5.2', 'NDR 5.2 RE(1)', 'NDR 5.2 RE(2)', 'NDR 5.2 RE(3)', 'NDR 5.3']],
    ])('%s %j → not applicable, levels unchanged', (type, patch, ids) => {
      // Remove the facts the non-applicable items would read, to show they are not "missing".
      const score = scorers[type]({ facts: withFacts(hardenedReport(), patch), attestation: affirming });
      for (const id of ids) {
        expect(item(score, id)).toMatchObject({ status: 'not-applicable' });
        expect(item(score, id).reason).toMatch(/^does not apply: "/);
      }
      expect(score.items.filter((i) => i.status === 'not-applicable').map((i) => i.id).sort()).toEqual([...ids].sort());
      expect(score.evidenced).toEqual(vec(4));
    });

    it('a not-applicable item is not missing even with its facts absent', () => {
      const facts = withFacts(hardenedReport(), { usesPki: false, 'authentication.methods': ['password'], pki: undefined, symmetricKeys: undefined });
      const score = scorers.EDR({ facts, attestation: affirming });
      expect(statusOf(score, 'CR 1.8')).toBe('not-applicable');
      expect(item(score, 'CR 1.8').facts).toEqual([{ fact: 'usesPki', value: false }]);
    });

    it('unknown applicability (fact absent) leaves the item applicable', () => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { usesPki: undefined, pki: undefined }), attestation: affirming });
      expect(statusOf(score, 'CR 1.8')).toBe('missing');
      expect(score.evidenced.FR1).toBe(1);
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
        attestation: status ? { status } : undefined,
        declared: scorer.declare(allIds('EDR')),
      });
      for (const id of integrity) expect(statusOf(score, id)).toBe(expected);
      expect(score.evidenced.FR3).toBe(fr3E);
      expect(score.declared.FR3).toBe(fr3D);
      expect(score.evidenced).toEqual(vec(4, { FR3: fr3E as 0 }));
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
      const old = scorer({ facts: hardenedReport(), attestation: { status: 'affirming', at: '2025-06-01T10:00:00Z' }, now });
      expect(old.attestation).toEqual({ status: 'stale', reported: 'affirming', at: '2025-06-01T10:00:00.000Z' });
      expect(statusOf(old, 'EDR 3.14')).toBe('contradicted');
      expect(old.evidenced.FR3).toBe(0);
      const fresh = scorer({ facts: hardenedReport(), attestation: { status: 'affirming', at: new Date(now - 60_000) }, now });
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
      const score = scorer({ facts: withFacts(hardenedReport(), patch), attestation: affirming, declared: allIds('EDR') });
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
      const score = scorers.EDR({ facts, attestation: affirming });
      expect(item(score, 'EDR 3.2')).toMatchObject({ status: 'missing', uncertain: true });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.decidedByUncertain.evidenced).toEqual({ FR3: ['EDR 3.2'] });
    });

    it('does not flag it when another unmet item binds the level anyway', () => {
      const facts = withFacts(hardenedReport(), { malwareProtection: undefined, updateSignatureCheck: undefined, inputValidation: undefined });
      const score = scorers.EDR({ facts, attestation: affirming });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.decidedByUncertain.evidenced).toEqual({});
    });

    it('flags per vector: declared items are met in the declared vector', () => {
      const facts = withFacts(hardenedReport(), { secureErrorHandling: undefined });
      const score = scorers.HDR({ facts, attestation: affirming, declared: ['CR 3.7'] });
      expect(score.decidedByUncertain).toEqual({ evidenced: { FR3: ['CR 3.7'] }, declared: {} });
      expect(score.evidenced.FR3).toBe(0);
      expect(score.declared.FR3).toBe(4);
    });

    it('flags an uncertain RE (HDR 3.2 RE(1)) capping at 1', () => {
      const score = scorers.HDR({ facts: withFacts(hardenedReport(), { malwareProtectionVersion: undefined }), attestation: affirming });
      expect(score.evidenced.FR3).toBe(1);
      expect(score.decidedByUncertain.evidenced).toEqual({ FR3: ['HDR 3.2 RE(1)'] });
    });

    it('a met uncertain item is never flagged', () => {
      const score = scorers.EDR({ facts: hardenedReport(), attestation: affirming });
      expect(item(score, 'EDR 3.2').uncertain).toBe(true);
      expect(score.decidedByUncertain.evidenced).toEqual({});
    });
  });

  describe('statuses and reasons', () => {
    it('an empty report: everything missing, vectors 0, except what the report itself shows', () => {
      const score = scorers.EDR({ facts: { schemaVersion: 1 } });
      expect(score.evidenced).toEqual(vec(0));
      expect(score.declared).toEqual(vec(0));
      expect(statusOf(score, 'CR 7.6 RE(1)')).toBe('evidenced');
      expect(item(score, 'CR 1.1')).toMatchObject({
        reason: 'not declared, and the facts do not show it (authentication.required = absent)',
        rule: 'human-authentication',
        facts: [{ fact: 'authentication.required', value: undefined }],
      });
    });

    it('evidenced reasons name the deciding facts', () => {
      const score = scorers.EDR({ facts: hardenedReport(), attestation: affirming });
      expect(item(score, 'CR 2.5')).toMatchObject({
        reason: 'sessions lock within 15 minutes of inactivity (sessionLock.enabled = true, sessionLock.timeoutSeconds = 600)',
        rule: 'session-lock',
      });
      expect(item(score, 'CR 1.5 RE(1)').reason).toBe('keys are kept in hardware (keyStorage = "tpm")');
      expect(item(score, 'EDR 3.2').facts).toEqual([{ fact: 'malwareProtection', value: true }]);
    });

    it('a declared item names the facts it still lacks', () => {
      const score = scorers.EDR({ facts: withFacts(hardenedReport(), { 'secureBoot.verified': undefined }), attestation: affirming, declared: ['EDR 3.14 RE(1)'] });
      expect(item(score, 'EDR 3.14 RE(1)')).toMatchObject({
        status: 'declared',
        reason: 'declared by the product; the facts do not show it (secureBoot.verified = absent)',
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
      const facts = withFacts(hardenedReport(), { inputValidation: false, usesPki: false, 'accounts.mfa': undefined });
      const score = scorers.EDR({ facts, attestation: affirming, declared: ['CR 1.1 RE(2)'] });
      expect(score.counts).toEqual({ evidenced: 80, declared: 1, contradicted: 1, missing: 0, 'not-applicable': 1 });
      expect(Object.values(score.counts).reduce((a, b) => a + b)).toBe(allIds('EDR').length);
      const json = JSON.parse(JSON.stringify(score));
      expect(Object.keys(json).sort()).toEqual(
        ['attestation', 'catalogVersion', 'componentType', 'counts', 'declared', 'decidedByUncertain', 'evidenced', 'ignoredDeclarations', 'items', 'rulesVersion'].sort(),
      );
      expect(json.items).toHaveLength(allIds('EDR').length);
      expect(json.items.find((i: { id: string }) => i.id === 'CR 3.5')).toEqual({
        id: 'CR 3.5',
        fr: 3,
        sl: 1,
        status: 'contradicted',
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
      const a = scoreDevice({ componentType: 'NDR', facts: hardenedReport(), attestation: affirming, declared: [] });
      expect(a).toMatchObject({ componentType: 'NDR', catalogVersion: '2019-1', rulesVersion: 'fact-rules.v1' });
      expect(a.evidenced).toEqual(vec(4));
    });

    it('rejects an unknown component type', () => {
      expect(() => scoreDevice({ componentType: 'PLC' as ComponentType, facts: hardenedReport() })).toThrow(
        expect.objectContaining({ code: 'hardening.invalid-component-type' }),
      );
    });
  });
});

describe('the compiled program agrees with the rules’ plain meaning (property)', () => {
  const compiled = compileFactRules(rules, catalog);
  const TRUE = 2;
  const FALSE = 0;

  /** Status and levels straight from the definitions, with the evaluator's closures. */
  function reference(type: ComponentType, facts: HardeningReport, att: AttestationStatus, declared: Set<string>) {
    const items = applicableItems(catalog, type);
    const statuses = items.map<ItemStatus>((it) => {
      const applies = it.appliesIf ? compiled.applicability.get(it.appliesIf) : undefined;
      if (applies && applies.evaluate(facts, att) === FALSE) return 'not-applicable';
      const r = compiled.byItem.get(it.id);
      if (r?.contradicted) {
        if (r.contradicted.evaluate(facts, att) === TRUE) return 'contradicted';
        if (r.evidenced.evaluate(facts, att) === TRUE) return 'evidenced';
      } else if (r) {
        const e = r.evidenced.evaluate(facts, att);
        if (e === TRUE) return 'evidenced';
        if (e === FALSE) return 'contradicted';
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
        (facts, type, status, coin) => {
          expect(validateHardeningReport(facts)).toBe(facts);
          const ids = allIds(type);
          const declared = new Set(ids.filter(() => coin.next().value));
          const ref = reference(type, facts, status, declared);
          const score = scorers[type]({ facts, attestation: { status }, declared: [...declared] });
          expect(score.items.map((i) => i.status)).toEqual(ref.statuses);
          expect(score.evidenced).toEqual(ref.evidenced);
          expect(score.declared).toEqual(ref.declared);
          expect(score.counts.contradicted).toBe(ref.statuses.filter((s) => s === 'contradicted').length);
        },
      ),
      { numRuns: 400 },
    );
  });
});
