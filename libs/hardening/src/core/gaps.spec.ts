import { applicableItems, COMPONENT_TYPES, FR_KEYS, loadCatalog, type SlValue } from './catalog';
import { loadFactRules } from './fact-rules';
import { gaps, type TargetLevels } from './gaps';
import { createScorer } from './sl-c.scoring';
import { hardenedReport, trustedEvidence, withFacts } from '@fleetguard/device-kit';

const catalog = loadCatalog();
const scorer = createScorer(catalog, loadFactRules(), 'EDR');
const allDeclared = scorer.declare(applicableItems(catalog, 'EDR').map((i) => i.id));
const target = (level: SlValue): TargetLevels => Object.fromEntries(FR_KEYS.map((k) => [k, level]));

describe('gaps', () => {
  it('no gaps for a hardened device at target 4', () => {
    const g = gaps(scorer({ facts: hardenedReport(), ...trustedEvidence() }), target(4));
    for (const k of FR_KEYS) expect(g[k]).toEqual({ target: 4, achieved: 4, items: [] });
  });

  it('a declared item contradicted by a fact is a gap in both vectors, naming the fact', () => {
    const score = scorer({
      facts: withFacts(hardenedReport(), { 'debugInterfaces.jtag': 'enabled' }),
      ...trustedEvidence(),
      declared: allDeclared,
    });
    for (const vector of ['evidenced', 'declared'] as const) {
      const fr2 = gaps(score, { FR2: 2 }, vector).FR2;
      expect(fr2.achieved).toBe(1);
      expect(fr2.items).toEqual([
        {
          id: 'EDR 2.13',
          sl: 2,
          status: 'contradicted',
          reason: 'a debug or test interface is open (debugInterfaces.jtag = "enabled")',
          rule: 'debug-interfaces',
          facts: [{ fact: 'debugInterfaces.jtag', value: 'enabled' }],
          uncertain: undefined,
        },
      ]);
    }
  });

  it('declared items are gaps in the evidenced vector only; items above the target are not gaps', () => {
    const facts = withFacts(hardenedReport(), { 'accounts.mfa': undefined, inputValidation: undefined });
    const score = scorer({ facts, ...trustedEvidence(), declared: ['CR 3.5'] });
    const e = gaps(score, { FR1: 2, FR3: 1 });
    expect(e.FR1.items).toEqual([]); // CR 1.1 RE(2) is SL 3, above the target
    expect(e.FR3.items.map((i) => [i.id, i.status])).toEqual([['CR 3.5', 'declared']]);
    const d = gaps(score, { FR1: 3, FR3: 1 }, 'declared');
    expect(d.FR1.items.map((i) => [i.id, i.status])).toEqual([['CR 1.1 RE(2)', 'missing']]);
    expect(d.FR3.items).toEqual([]);
    expect(d.FR4).toEqual({ target: 0, achieved: 4, items: [] });
  });

  it('lists gaps lowest level first', () => {
    const score = scorer({ facts: { schemaVersion: 1 } });
    const levels = gaps(score, target(4)).FR3.items.map((i) => i.sl);
    expect(levels).toEqual([...levels].sort((a, b) => a - b));
    expect(levels[0]).toBe(1);
    // An empty report evidences nothing in FR3, so every FR3 item is a gap.
    expect(levels).toHaveLength(applicableItems(catalog, 'EDR', 3).length);
  });

  it.each<[string, unknown, RegExp]>([
    ['level 5', { FR1: 5 }, /FR1 must be an integer 0..4/],
    ['unknown key', { FR8: 1 }, /unknown key "FR8"/],
    ['not an object', null, /must be an object/],
  ])('rejects %s', (_name, t, message) => {
    const score = scorer({ facts: hardenedReport() });
    expect(() => gaps(score, t as TargetLevels)).toThrow(message);
  });

  it.each(COMPONENT_TYPES)('%s: gaps at the achieved level are empty, one level up they are not', (type) => {
    const s = createScorer(catalog, loadFactRules(), type);
    const score = s({ facts: withFacts(hardenedReport(), { 'accounts.mfa': undefined }), ...trustedEvidence() });
    expect(gaps(score, { FR1: score.evidenced.FR1 }).FR1.items).toEqual([]);
    expect(gaps(score, { FR1: 3 }).FR1.items.map((i) => i.id)).toEqual(['CR 1.1 RE(2)']);
  });
});
