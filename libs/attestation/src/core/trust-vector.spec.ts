import { AR4SI, degrade, emptyTrustVector, statusOf, tierOf } from './trust-vector';

describe('AR4SI tiers', () => {
  it.each([
    [0, 'none'], [1, 'none'], [-1, 'none'],
    [2, 'affirming'], [3, 'affirming'], [31, 'affirming'], [-2, 'affirming'], [-32, 'affirming'],
    [32, 'warning'], [33, 'warning'], [95, 'warning'], [-33, 'warning'], [-96, 'warning'],
    [96, 'contraindicated'], [97, 'contraindicated'], [99, 'contraindicated'], [127, 'contraindicated'], [-97, 'contraindicated'], [-128, 'contraindicated'],
  ])('%i is %s', (value, tier) => {
    expect(tierOf(value)).toBe(tier);
  });

  it('refuses values outside a signed byte', () => {
    expect(() => tierOf(128)).toThrow(RangeError);
    expect(() => tierOf(-129)).toThrow(RangeError);
  });

  it('ear.status is the worst tier; all "no claim" is none', () => {
    const v = emptyTrustVector();
    expect(statusOf(v)).toBe('none');
    v['instance-identity'] = AR4SI.instanceIdentity.TRUSTWORTHY;
    expect(statusOf(v)).toBe('affirming');
    v.executables = AR4SI.executables.UNRECOGNIZED_RUNTIME;
    expect(statusOf(v)).toBe('warning');
    v.hardware = AR4SI.hardware.CONTRAINDICATED;
    expect(statusOf(v)).toBe('contraindicated');
  });

  it('degrade keeps the worst value and the first of a tier', () => {
    const v = emptyTrustVector();
    degrade(v, 'executables', 3);
    degrade(v, 'executables', 96);
    degrade(v, 'executables', 3);
    degrade(v, 'executables', 33);
    expect(v.executables).toBe(96);
    degrade(v, 'hardware', 97);
    degrade(v, 'hardware', 96);
    expect(v.hardware).toBe(97);
  });
});
