import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { CORIM_ERROR, corimView, parseCorim } from './corim.parser';
import { generateIak, signCoseSign1 } from '@fleetguard/device-kit';

const SHARED = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'data', 'psa');
const example = (f: string) => readFileSync(path.join(SHARED, f));

describe('CoRIM, PSA profile (the Veraison examples in ../shared/data/psa)', () => {
  it('records the valid one: its reference triple and its attest-key triple', () => {
    const c = corimView(parseCorim(example('corim-psa-valid.cbor'), { signed: false }));
    expect(c).toMatchObject({ id: 'psa-valid-corim', profile: 'tag:arm.com,2025:psa#1.0.0', signed: false });
    expect(c.referenceValues).toEqual([
      {
        implementationId: Buffer.from('01234567890123456789012345678901').toString('hex'),
        vendor: 'ACME',
        model: 'RoadRunner',
        measurementType: 'BL',
        version: '2.1.0',
        signerIds: [Buffer.from('01234567890123456789012345678901').toString('hex')],
        digests: [{ alg: 'sha-256', value: '87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7' }],
      },
    ]);
    expect(c.attestKeys).toHaveLength(1);
    expect(c.attestKeys[0].instanceId).toBe('01' + Buffer.from('01234567890123456789012345678901').toString('hex'));
    expect(c.attestKeys[0].publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it.each([
    ['corim-psa-invalid-impl-id.cbor', CORIM_ERROR.psaInvalid, /reference-triple 0: implementation id is 31 bytes, the PSA profile requires 32/],
    ['corim-psa-invalid-attest-key.cbor', CORIM_ERROR.psaInvalid, /attest-key-triple 0: has 2 verification keys, the PSA profile requires exactly 1/],
    ['corim-no-profile.cbor', CORIM_ERROR.profileMissing, /'no-profile-corim' names no profile/],
  ])('refuses %s, naming what is wrong', (file, code, message) => {
    expect(() => parseCorim(example(file), { signed: false })).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });

  it('reads a COSE_Sign1-signed CoRIM with the product key, refuses it with another and refuses it sent as unsigned', () => {
    const key = generateIak();
    const signed = signCoseSign1(example('corim-psa-valid.cbor'), key.privateKey);
    expect(parseCorim(signed, { signed: true, keys: [key.publicKey] })).toMatchObject({ id: 'psa-valid-corim', signed: true });
    expect(() => parseCorim(signed, { signed: true, keys: [generateIak().publicKey] })).toThrow(expect.objectContaining({ code: CORIM_ERROR.signatureInvalid }));
    expect(() => parseCorim(signed, { signed: true, keys: [] })).toThrow(/no active signing key/);
    expect(() => parseCorim(signed, { signed: false })).toThrow(/send it as application\/rim\+cose/);
    expect(() => parseCorim(example('corim-psa-valid.cbor'), { signed: true, keys: [key.publicKey] })).toThrow(expect.objectContaining({ code: CORIM_ERROR.malformed }));
  });

  it('fuzz: 10,000 mutations of the CoRIM examples give typed refusals only', () => {
    const seeds = ['corim-psa-valid.cbor', 'corim-no-profile.cbor', 'corim-psa-invalid-attest-key.cbor'].map(example);
    const codes = new Set<string>(Object.values(CORIM_ERROR));
    fc.assert(
      fc.property(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(700), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }), fc.nat(700), (s, edits, cut) => {
        const b = Buffer.from(seeds[s]);
        for (const [i, v] of edits) b[i % b.length] = v;
        try {
          parseCorim(b.subarray(0, Math.max(1, Math.min(cut, b.length))), { signed: false });
        } catch (e) {
          if (!codes.has((e as { code?: string }).code ?? '')) throw e;
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
