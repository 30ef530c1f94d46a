import { integrityStatus, lacksFreshAffirmation, staleCutoff } from './integrity-status';

describe('integrity status', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const interval = 300;
  const ago = (s: number) => new Date(now.getTime() - s * 1000);

  it('stale after twice the attestation interval', () => {
    expect(staleCutoff(now, interval)).toEqual(ago(600));
  });

  it.each([
    [{ status: 'revoked', attestationStatus: 'affirming', affirmedAt: ago(1) }, 'revoked'],
    [{ status: 'revoked', attestationStatus: 'contraindicated', affirmedAt: null }, 'revoked'],
    [{ status: 'active', attestationStatus: 'contraindicated', affirmedAt: ago(1) }, 'contraindicated'],
    [{ status: 'active', attestationStatus: 'warning', affirmedAt: null }, 'warning'],
    [{ status: 'active', attestationStatus: 'warning', affirmedAt: ago(86400) }, 'warning'],
    [{ status: 'active', attestationStatus: 'none', affirmedAt: ago(5) }, 'none'],
    [{ status: 'active', attestationStatus: null, affirmedAt: null }, 'stale'],
    [{ status: 'active', attestationStatus: 'affirming', affirmedAt: ago(601) }, 'stale'],
    [{ status: 'active', attestationStatus: 'affirming', affirmedAt: ago(600) }, 'affirming'],
    [{ status: 'active', attestationStatus: 'affirming', affirmedAt: ago(10) }, 'affirming'],
  ])('%j is %s', (device, expected) => {
    expect(integrityStatus(device, now, interval)).toBe(expected);
  });

  it('"lacks a fresh affirmation" holds for active devices only, failing ones included', () => {
    expect(lacksFreshAffirmation({ status: 'active', attestationStatus: 'warning', affirmedAt: null }, now, interval)).toBe(true);
    expect(lacksFreshAffirmation({ status: 'active', attestationStatus: 'affirming', affirmedAt: ago(10) }, now, interval)).toBe(false);
    expect(lacksFreshAffirmation({ status: 'revoked', attestationStatus: null, affirmedAt: null }, now, interval)).toBe(false);
  });
});
