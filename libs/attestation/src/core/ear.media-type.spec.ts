import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { isDomainError } from '@fleetguard/common';
import { createVerifierKey, EAR_DRAFT_PROFILE, EAR_PROFILE, reformEar, signEar } from './ear.builder';
import { negotiateEar } from './ear.media-type';
import { emptyTrustVector } from './trust-vector';

const DRAFT = `application/eat+jwt; eat_profile="${EAR_DRAFT_PROFILE}"`;
const VERAISON = `application/eat+jwt; eat_profile="${EAR_PROFILE}"`;

describe('negotiateEar (Accept → EAR form)', () => {
  it('JSON when nothing, */* or application/json is asked (the configured form)', () => {
    for (const a of [undefined, '*/*', 'application/*', 'application/json', 'application/json, text/plain;q=0.5']) expect(negotiateEar(a, 'draft', { json: true })).toEqual({ kind: 'json' });
  });

  it('the EAR itself in the profile asked for, either form whatever the default', () => {
    expect(negotiateEar(VERAISON, 'draft', { json: true })).toEqual({ kind: 'jwt', form: 'veraison', contentType: VERAISON });
    expect(negotiateEar(DRAFT, 'veraison', { json: true })).toEqual({ kind: 'jwt', form: 'draft', contentType: DRAFT });
    // the draft's own spelling, and a profile without quotes where it needs none
    expect(negotiateEar(`application/eat-jwt; eat_profile="${EAR_PROFILE}"`, 'draft', { json: true })).toMatchObject({ kind: 'jwt', form: 'veraison' });
  });

  it('without a profile, or as application/jwt: the configured form', () => {
    expect(negotiateEar('application/eat+jwt', 'veraison', { json: true })).toMatchObject({ kind: 'jwt', form: 'veraison', contentType: VERAISON });
    expect(negotiateEar('application/jwt', 'draft', { json: true })).toEqual({ kind: 'jwt', form: 'draft', contentType: 'application/jwt' });
  });

  it('honours q-values and order', () => {
    expect(negotiateEar(`application/json;q=0.5, ${VERAISON}`, 'draft', { json: true })).toMatchObject({ kind: 'jwt', form: 'veraison' });
    expect(negotiateEar(`${VERAISON};q=0.1, application/json`, 'draft', { json: true })).toEqual({ kind: 'json' });
    expect(negotiateEar(`${DRAFT};q=0.2, ${VERAISON};q=0.9`, 'draft', { json: true })).toMatchObject({ form: 'veraison' });
  });

  it('406 (not-acceptable) for an unknown profile, a CWT, HTML, JSON where only the EAR is served, or an unreadable header', () => {
    const refused = (a: string, json = true) => {
      try {
        negotiateEar(a, 'draft', { json });
      } catch (e) {
        if (isDomainError(e)) return { code: e.code, kind: e.kind, message: e.message };
      }
      return null;
    };
    for (const a of ['application/eat+jwt; eat_profile="tag:example.com,2025:other"', 'application/eat+cwt', 'text/html', 'application/json;q=0']) {
      expect(refused(a)).toEqual({ code: 'ear.not-acceptable', kind: 'not-acceptable', message: expect.stringContaining(`offered: application/json, ${DRAFT}, ${VERAISON}, application/jwt`) });
    }
    expect(refused('application/json', false)).toMatchObject({ code: 'ear.not-acceptable' });
    expect(refused('application/eat+jwt; eat_profile=tag:ietf.org,2026:rats/ear#04')).toMatchObject({ code: 'ear.not-acceptable' });
  });
});

describe('negotiateEar on arbitrary Accept headers (outside bytes)', () => {
  it('answers or refuses with ear.not-acceptable; never another error', () => {
    const piece = fc.constantFrom('application/json', 'application/eat+jwt', 'application/eat-jwt', 'application/jwt', '*/*', 'text/*', ';', ',', '=', '"', 'q=0.5', 'q=x', ' ', 'eat_profile=', EAR_DRAFT_PROFILE, EAR_PROFILE, '\\');
    const header = fc.oneof(fc.string({ maxLength: 200 }), fc.array(piece, { maxLength: 12 }).map((p) => p.join('')));
    fc.assert(
      fc.property(header, fc.boolean(), (accept, json) => {
        try {
          const a = negotiateEar(accept, 'draft', { json });
          expect(['json', 'jwt']).toContain(a.kind);
        } catch (e) {
          expect(isDomainError(e) && e.code === 'ear.not-acceptable').toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('reformEar', () => {
  it('signs the same appraisal in the other form, with its iat, nonce and subject; the same form is returned as is', async () => {
    const verifierKey = await createVerifierKey();
    const verifierId = { build: 'b', developer: 'd' };
    const trustVector = { ...emptyTrustVector(), 'instance-identity': 2, hardware: 2, executables: 3 };
    const now = new Date('2026-01-02T03:04:05Z');
    const draft = await signEar({ trustVector, reasons: ['r1'] }, { verifierKey, verifierId, nonce: 'n'.repeat(43), deviceId: 'fg-1', now, attester: { ueid: 'AgAEizrK3Q' } });
    expect(await reformEar(draft, 'draft', { verifierKey, verifierId })).toBe(draft);
    const v = decodeJwt(await reformEar(draft, 'veraison', { verifierKey, verifierId })) as any;
    expect(v).toMatchObject({ eat_profile: EAR_PROFILE, iat: now.getTime() / 1000, sub: 'fg-1', eat_nonce: 'n'.repeat(43) });
    expect(v.submods.device).toMatchObject({ 'ear.status': 'affirming', 'ear.trustworthiness-vector': trustVector, reasons: ['r1'] });
    const back = decodeJwt(await reformEar(await reformEar(draft, 'veraison', { verifierKey, verifierId }), 'draft', { verifierKey, verifierId })) as any;
    expect(back.submods.device.ear_verifier_claims).toEqual({ reasons: ['r1'] });
    expect(back.submods.device.eat_nonce).toBe('n'.repeat(43));
  });
});
