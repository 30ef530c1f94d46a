import { applicableItems, COMPONENT_TYPES, loadCatalog } from './catalog';
import { compileFactRules, loadFactRules, type FactRules } from './fact-rules';
import { createScorer } from './sl-c.scoring';

const catalog = loadCatalog();
const rules = loadFactRules();

const withRules = (patch: Partial<FactRules>): FactRules => ({ ...structuredClone(rules), ...patch });
const rule = (over: Record<string, unknown> = {}) => ({
  id: 'test-rule',
  items: ['CR 3.5'],
  evidenced: { fact: 'inputValidation', eq: true },
  reasons: { evidenced: 'ok', contradicted: 'not ok' },
  ...over,
});

describe('fact rules', () => {
  it('the shipped rules are versioned and compile against the shipped catalog', () => {
    expect(rules).toMatchObject({ version: 'fact-rules.v2', catalogVersion: '2019-1.1', reportSchemaVersion: 1 });
    expect(() => compileFactRules(rules, catalog)).not.toThrow();
  });

  it.each(COMPONENT_TYPES)('every item scored for %s has a rule', (type) => {
    const compiled = compileFactRules(rules, catalog);
    expect(applicableItems(catalog, type).filter((i) => !compiled.byItem.has(i.id)).map((i) => i.id)).toEqual([]);
  });

  it('every appliesIf text of the catalog is mapped to facts', () => {
    const compiled = compileFactRules(rules, catalog);
    const texts = [...new Set(catalog.items.map((e) => e.appliesIf).filter(Boolean))];
    expect(texts.filter((t) => !compiled.applicability.has(t!))).toEqual([]);
  });

  it('integrity items are decided by attestation', () => {
    const compiled = compileFactRules(rules, catalog);
    for (const id of ['CR 3.4', 'CR 3.4 RE(1)', 'EDR 3.10', 'EDR 3.10 RE(1)', 'EDR 3.14', 'HDR 3.14', 'NDR 3.14 RE(1)']) {
      const r = compiled.byItem.get(id)!;
      expect(r.evidenced.reads).toContain('attestation.status');
      expect(r.contradicted?.reads).toContain('attestation.status');
    }
  });

  it('reason templates insert fact values and the attestation status', () => {
    const custom = withRules({
      rules: [
        rule({
          contradicted: { fact: 'inputValidation', eq: false },
          reasons: { evidenced: 'validated on {firmwareVersion}', contradicted: 'not validated; attestation {attestation.status}' },
        }),
      ],
    });
    const scorer = createScorer(catalog, custom, 'EDR');
    const ok = scorer({ facts: { schemaVersion: 1, inputValidation: true, firmwareVersion: '2.4.1' }, attestation: { status: 'affirming', firmwareVersion: '2.4.1' } });
    expect(ok.items.find((i) => i.id === 'CR 3.5')?.reason).toBe('validated on 2.4.1 (inputValidation = true)');
    const bad = scorer({ facts: { schemaVersion: 1, inputValidation: false }, attestation: { status: 'warning' } });
    expect(bad.items.find((i) => i.id === 'CR 3.5')?.reason).toBe('not validated; attestation warning (inputValidation = false)');
    expect(ok.items.find((i) => i.id === 'CR 3.6')?.reason).toBe('not declared; no fact rule covers it');
  });

  describe('rejects bad rules data in plain words', () => {
    it.each<[string, FactRules, RegExp]>([
      ['an unknown fact', withRules({ rules: [rule({ evidenced: { fact: 'inputValidated', eq: true } })] }), /rule test-rule.evidenced \(fact "inputValidated"\): no such fact/],
      ['an item decided twice', withRules({ rules: [rule(), rule({ id: 'other' })] }), /rule other: CR 3.5 is already decided by rule test-rule/],
      ['a duplicate rule id', withRules({ rules: [rule(), rule({ items: ['CR 3.6'] })] }), /rule test-rule: id used twice/],
      ['a placeholder in a reason that is not a fact', withRules({ rules: [rule({ reasons: { evidenced: 'x {nope}', contradicted: 'y' } })] }), /\{nope\} is not a fact/],
      ['a missing reason', withRules({ rules: [rule({ reasons: { evidenced: 'x' } })] }), /reasons must have evidenced and contradicted texts/],
      ['an unexpected field', withRules({ rules: [rule({ weight: 2 })] }), /rule test-rule: unexpected weight/],
      ['a mapping without a condition', withRules({ applicability: [{ appliesIf: 'PKI is used' } as never] }), /applicability "PKI is used".when: a condition must be an object/],
    ])('%s', (_name, bad, message) => {
      expect(() => compileFactRules(bad)).toThrow(message);
      expect(() => compileFactRules(bad)).toThrow(expect.objectContaining({ code: 'hardening.invalid-rules' }));
    });

    it.each<[string, FactRules, RegExp]>([
      ['an item not in the catalog', withRules({ rules: [rule({ items: ['CR 9.9'] })] }), /CR 9.9 is not in catalog 2019-1.1/],
      ['a placeholder CR', withRules({ rules: [rule({ items: ['CR 3.14'] })] }), /CR 3.14 carries no requirement of its own/],
      ['an appliesIf text the catalog does not have', withRules({ applicability: [{ appliesIf: 'PKI is usd', when: { fact: 'usesPki', eq: true } }] }), /"PKI is usd" matches no appliesIf/],
      ['another catalog version', withRules({ catalogVersion: '2025-1' }), /written for catalog 2025-1, not 2019-1.1/],
    ])('against the catalog: %s', (_name, bad, message) => {
      expect(() => compileFactRules(bad, catalog)).toThrow(message);
    });
  });
});
