import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import {
  ATTESTATION_STATUSES,
  explainCondition,
  FALSE,
  prepareCondition,
  TRUE,
  UNKNOWN,
  type AttestationStatus,
  type FactCondition,
} from './fact-condition.evaluator';
import { hardeningReportShape } from './hardening-report.schema';

const shape = hardeningReportShape();
const evaluate = (cond: unknown, facts: object, att: AttestationStatus = 'none') =>
  prepareCondition(cond, shape, 'test').evaluate(facts, att);

describe('fact conditions', () => {
  const facts = {
    schemaVersion: 1,
    secureBoot: { enabled: true },
    passwordPolicy: { minLength: 10 },
    tls: { versions: ['1.2', '1.3'] },
    keyStorage: 'tpm',
    services: [
      { name: 'https', port: 443, protocol: 'tcp', encrypted: true },
      { name: 'modbus', port: 502, protocol: 'tcp', encrypted: false },
    ],
  };

  it.each<[string, unknown, number]>([
    ['eq true', { fact: 'secureBoot.enabled', eq: true }, TRUE],
    ['eq false', { fact: 'secureBoot.enabled', eq: false }, FALSE],
    ['absent fact is unknown', { fact: 'secureBoot.verified', eq: true }, UNKNOWN],
    ['absent parent is unknown', { fact: 'timeSync.enabled', eq: true }, UNKNOWN],
    ['ne', { fact: 'keyStorage', ne: 'software' }, TRUE],
    ['in', { fact: 'keyStorage', in: ['tpm', 'hsm'] }, TRUE],
    ['gte + lte', { fact: 'passwordPolicy.minLength', gte: 8, lte: 64 }, TRUE],
    ['gt fails', { fact: 'passwordPolicy.minLength', gt: 10 }, FALSE],
    ['lt', { fact: 'passwordPolicy.minLength', lt: 11 }, TRUE],
    ['contains', { fact: 'tls.versions', contains: '1.3' }, TRUE],
    ['subsetOf', { fact: 'tls.versions', subsetOf: ['1.2', '1.3'] }, TRUE],
    ['subsetOf fails', { fact: 'tls.versions', subsetOf: ['1.3'] }, FALSE],
    ['nonEmpty', { fact: 'tls.versions', nonEmpty: true }, TRUE],
    ['exists on absent', { fact: 'firmwareVersion', exists: true }, FALSE],
    ['exists false on absent', { fact: 'firmwareVersion', exists: false }, TRUE],
    ['all with unknown', { all: [{ fact: 'secureBoot.enabled', eq: true }, { fact: 'secureBoot.verified', eq: true }] }, UNKNOWN],
    ['all with false', { all: [{ fact: 'secureBoot.verified', eq: true }, { fact: 'keyStorage', eq: 'hsm' }] }, FALSE],
    ['any with true', { any: [{ fact: 'secureBoot.verified', eq: true }, { fact: 'keyStorage', eq: 'tpm' }] }, TRUE],
    ['any with unknown', { any: [{ fact: 'secureBoot.verified', eq: true }, { fact: 'keyStorage', eq: 'hsm' }] }, UNKNOWN],
    ['not unknown stays unknown', { not: { fact: 'secureBoot.verified', eq: true } }, UNKNOWN],
    ['every, one element false', { every: 'services', match: { fact: 'encrypted', eq: true } }, FALSE],
    ['some', { some: 'services', match: { fact: 'port', eq: 502 } }, TRUE],
  ])('%s', (_name, cond, expected) => {
    expect(evaluate(cond, facts)).toBe(expected);
  });

  it('quantifiers: absent array unknown, every over [] true, some over [] false', () => {
    const every = { every: 'services', match: { fact: 'encrypted', eq: true } };
    const some = { some: 'services', match: { fact: 'encrypted', eq: true } };
    expect(evaluate(every, {})).toBe(UNKNOWN);
    expect(evaluate(every, { services: [] })).toBe(TRUE);
    expect(evaluate(some, { services: [] })).toBe(FALSE);
  });

  it.each<[AttestationStatus, number, number]>([
    ['affirming', TRUE, FALSE],
    ['warning', FALSE, FALSE],
    ['contraindicated', FALSE, TRUE],
    ['stale', FALSE, TRUE],
    ['none', UNKNOWN, UNKNOWN],
  ])('attestation %s: affirming test %i, failed test %i', (status, affirming, failed) => {
    expect(evaluate({ attestation: 'affirming' }, {}, status)).toBe(affirming);
    expect(evaluate({ attestation: ['contraindicated', 'stale'] }, {}, status)).toBe(failed);
  });

  it('explains which facts decided, with concrete array paths', () => {
    const p = prepareCondition(
      { all: [{ fact: 'secureBoot.enabled', eq: true }, { every: 'services', match: { fact: 'encrypted', eq: true } }] },
      shape,
      'test',
    );
    expect(explainCondition(p, facts, 'none')).toEqual({
      value: FALSE,
      facts: [{ fact: 'services[1].encrypted', value: false }],
    });
    expect(p.reads).toEqual(['secureBoot.enabled', 'services', 'services[].encrypted']);
  });

  describe('checks conditions against the report schema', () => {
    it.each<[string, unknown, RegExp]>([
      ['unknown fact', { fact: 'secureBoot.enable', eq: true }, /no such fact in the hardening report schema/],
      ['unknown operator', { fact: 'secureBoot.enabled', equals: true }, /unknown operator "equals"/],
      ['no operator', { fact: 'secureBoot.enabled' }, /needs an operator/],
      ['wrong value type', { fact: 'secureBoot.enabled', eq: 'true' }, /"eq" needs a boolean value/],
      ['value outside the enum', { fact: 'keyStorage', in: ['tpm', 'usb-stick'] }, /"in" needs a non-empty list of string values/],
      ['numeric op on a boolean', { fact: 'secureBoot.enabled', gte: 1 }, /"gte" needs an integer fact/],
      ['array op on a scalar', { fact: 'keyStorage', contains: 'tpm' }, /"contains" needs an array fact/],
      ['quantifier over a scalar', { every: 'keyStorage', match: { fact: 'x', eq: 1 } }, /must name an array-of-objects fact/],
      ['relative path inside a quantifier', { some: 'services', match: { fact: 'services.port', eq: 1 } }, /no such fact/],
      ['empty all', { all: [] }, /needs a non-empty list/],
      ['two forms in one node', { all: [{ attestation: 'affirming' }], not: { attestation: 'none' } }, /unexpected "not"/],
      ['bad attestation status', { attestation: 'ok' }, /attestation must be one or more of/],
      ['code as text', 'secureBoot.enabled === true', /a condition must be an object/],
    ])('%s', (_name, cond, message) => {
      expect(() => prepareCondition(cond, shape, 'rule x')).toThrow(DomainError);
      expect(() => prepareCondition(cond, shape, 'rule x')).toThrow(message);
    });

    it('rejects conditions nested too deep', () => {
      let cond: unknown = { attestation: 'affirming' };
      for (let i = 0; i < 20; i++) cond = { not: cond };
      expect(() => prepareCondition(cond, shape, 'deep')).toThrow(/nested deeper than 16/);
    });
  });

  describe('properties', () => {
    // Random conditions over a few facts, and random facts (present or absent) to test them on.
    const leaf = fc.constantFrom<FactCondition>(
      { fact: 'secureBoot.enabled', eq: true },
      { fact: 'secureBoot.verified', eq: false },
      { fact: 'passwordPolicy.minLength', gte: 8, lte: 20 },
      { fact: 'keyStorage', in: ['tpm', 'hsm'] },
      { fact: 'tls.versions', subsetOf: ['1.2', '1.3'] },
      { fact: 'tls.versions', contains: '1.0' },
      { fact: 'firmwareVersion', exists: true },
      { attestation: 'affirming' },
      { attestation: ['contraindicated', 'stale'] },
      { every: 'services', match: { fact: 'encrypted', eq: true } },
      { some: 'services', match: { any: [{ fact: 'port', eq: 23 }, { fact: 'name', eq: 'telnet' }] } },
    );
    const { cond } = fc.letrec<{ cond: FactCondition }>((tie) => ({
      cond: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('cond'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
        fc.array(tie('cond'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
        tie('cond').map((not) => ({ not })),
      ),
    }));
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const factsArb = fc.record(
      {
        secureBoot: opt(fc.record({ enabled: opt(fc.boolean()), verified: opt(fc.boolean()) }, { requiredKeys: [] })),
        passwordPolicy: opt(fc.record({ minLength: opt(fc.integer({ min: 0, max: 40 })) }, { requiredKeys: [] })),
        keyStorage: opt(fc.constantFrom('software', 'tpm', 'hsm')),
        tls: opt(fc.record({ versions: opt(fc.subarray(['1.0', '1.1', '1.2', '1.3'])) }, { requiredKeys: [] })),
        firmwareVersion: opt(fc.constant('1.0.0')),
        services: opt(
          fc.array(
            fc.record({ name: fc.constantFrom('ssh', 'telnet', 'https'), port: fc.constantFrom(22, 23, 443), encrypted: fc.boolean() }),
            { maxLength: 4 },
          ),
        ),
      },
      { requiredKeys: [] },
    );
    const att = fc.constantFrom(...ATTESTATION_STATUSES);

    it('the compiled evaluator and the explainer agree', () => {
      fc.assert(
        fc.property(cond, factsArb, att, (c, f, a) => {
          const p = prepareCondition(c, shape, 'prop');
          expect(explainCondition(p, f, a).value).toBe(p.evaluate(f, a));
        }),
        { numRuns: 500 },
      );
    });

    it('Kleene laws: not(not c) = c, De Morgan, and knowing more facts never flips a decided value', () => {
      fc.assert(
        fc.property(cond, cond, factsArb, att, (c1, c2, f, a) => {
          const ev = (c: FactCondition) => evaluate(c, f, a);
          expect(ev({ not: { not: c1 } })).toBe(ev(c1));
          expect(ev({ not: { all: [c1, c2] } })).toBe(ev({ any: [{ not: c1 }, { not: c2 }] }));
          // Monotonicity: reporting a fact that was absent can settle an UNKNOWN, never change a decided value.
          const known = ev(c1);
          const more = evaluate(c1, { ...f, secureBoot: { enabled: true, verified: true } }, a);
          if (known !== UNKNOWN && f.secureBoot === undefined) expect(more).toBe(known);
        }),
        { numRuns: 300 },
      );
    });
  });
});
