import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { CborTag, encodeCbor } from './cbor.codec';
import { COSE_ERROR, parseCoseSign1, verifyCoseSign1, verifyCoseSign1Bytes } from './cose-sign1.verifier';
import { buildPsaTokenWithCbor2, signCoseSign1 } from '@fleetguard/device-kit';

const curves = [
  ['P-256', 'ES256'],
  ['P-384', 'ES384'],
  ['P-521', 'ES512'],
] as const;

describe('COSE_Sign1 verification (RFC 9052)', () => {
  it.each(curves)('verifies %s tokens signed by openssl over a python3-cbor2 Sig_structure (%s)', (curve, alg) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const token = buildPsaTokenWithCbor2(`{1: "payload"}`, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), alg);
    const msg = verifyCoseSign1Bytes(token, publicKey);
    expect(msg.alg).toBe(alg);
    expect(msg.tagged).toBe(true);
    const other = generateKeyPairSync('ec', { namedCurve: curve }).publicKey;
    expect(() => verifyCoseSign1(msg, other)).toThrow(expect.objectContaining({ code: COSE_ERROR.signatureInvalid }));
  });

  it('refuses a key of another curve, a flipped payload bit and an algorithm outside ES256/384/512', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const token = signCoseSign1(encodeCbor(new Map([[1, 2]])), privateKey);
    expect(() => verifyCoseSign1Bytes(token, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)).toThrow(expect.objectContaining({ code: COSE_ERROR.keyMismatch }));
    const msg = parseCoseSign1(token);
    msg.payload = Buffer.from(msg.payload);
    msg.payload[msg.payload.length - 1] ^= 1;
    expect(() => verifyCoseSign1(msg, publicKey)).toThrow(expect.objectContaining({ code: COSE_ERROR.signatureInvalid }));
    const eddsa = encodeCbor(new CborTag(18, [encodeCbor(new Map([[1, -8]])), new Map(), new Uint8Array(1), new Uint8Array(64)]));
    expect(() => parseCoseSign1(eddsa)).toThrow(expect.objectContaining({ code: COSE_ERROR.algUnsupported }));
    const noAlg = encodeCbor([encodeCbor(new Map()), new Map([[1, -7]]), new Uint8Array(1), new Uint8Array(64)]);
    expect(() => parseCoseSign1(noAlg)).toThrow(/must be in the protected header/);
  });

  it('refuses non-minimal CBOR, indefinite lengths, trailing bytes and detached payloads', () => {
    expect(() => parseCoseSign1(Buffer.from('d2841843a10126a0f640', 'hex'))).toThrow(expect.objectContaining({ code: COSE_ERROR.malformed }));
    expect(() => parseCoseSign1(Buffer.from('9f43a10126a040ff', 'hex'))).toThrow(expect.objectContaining({ code: COSE_ERROR.malformed }));
    expect(() => parseCoseSign1(Buffer.from('8443a10126a0f64000', 'hex'))).toThrow(expect.objectContaining({ code: COSE_ERROR.malformed }));
    expect(() => parseCoseSign1(Buffer.from('8443a10126a0f640', 'hex'))).toThrow(/detached payload/);
  });

  it('fuzz: 10,000 mutated and random inputs give typed refusals only', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const seed = signCoseSign1(encodeCbor(new Map<number, unknown>([[10, new Uint8Array(32)], [265, 'tag:psacertified.org,2023:psa#tfm']])), privateKey);
    const known = new Set<string>(Object.values(COSE_ERROR));
    const check = (bytes: Uint8Array) => {
      try {
        verifyCoseSign1Bytes(bytes, publicKey);
      } catch (e) {
        if (!known.has((e as { code?: string }).code ?? '')) throw e;
      }
    };
    const mutation = fc.tuple(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(seed.length));
    fc.assert(
      fc.property(mutation, ([edits, cut]) => {
        const b = Buffer.from(seed);
        for (const [i, v] of edits) b[i] = v;
        check(b.subarray(0, Math.max(1, cut)));
      }),
      { numRuns: 6000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)), { numRuns: 4000 });
  });
});
