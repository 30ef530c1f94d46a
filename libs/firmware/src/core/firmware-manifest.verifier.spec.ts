import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { CompactSign } from 'jose';
import { DomainError } from '@fleetguard/common';
import { signManifest } from './firmware-manifest.signer';
import { FirmwareManifest } from './firmware-manifest.schema';
import {
  DetachedImageStreamVerifier,
  VerifiedManifest,
  verifyDetachedImage,
  verifyDetachedImageStream,
  verifyManifest,
} from './firmware-manifest.verifier';
import {
  asyncOutcomeOf,
  outcomeOf,
  sampleBytes,
  samplePrivateKey,
  samplePublicKey,
  samplesIndex,
  sampleText,
  splitBytes,
  streamOf,
  trustedSampleKeys,
} from './testing/firmware-samples';

const keys = trustedSampleKeys();
const PRODUCT = samplesIndex.productId;
const goodJws = sampleText('good.manifest.jws').trim();
const goodBin = sampleBytes('good.bin');
const ecKey = samplePrivateKey('ec-p256');
const ecKeyId = samplesIndex.keys['ec-p256'].keyId;
const payload: FirmwareManifest = {
  productId: PRODUCT,
  version: '3.1.0',
  securityCounter: 7,
  digest: `sha256:${createHash('sha256').update(goodBin).digest('hex')}`,
  size: goodBin.length,
};
const MANIFEST_CODE = /^manifest\.[a-z-]+$/;

/** Signs any payload bytes with jose directly (not through signManifest), as ES256 with kid. */
const signRaw = (body: string, header: Record<string, unknown> = { alg: 'ES256', kid: ecKeyId }) =>
  new CompactSign(new TextEncoder().encode(body)).setProtectedHeader(header as any).sign(ecKey);

describe('verifyManifest', () => {
  it('verifies the openssl-made sample and returns its payload with the signer', async () => {
    const m = await verifyManifest(goodJws, keys, PRODUCT);
    expect(m).toMatchObject({ productId: PRODUCT, version: '2.0.1', securityCounter: 5, size: goodBin.length, signerKeyId: ecKeyId, algorithm: 'ES256' });
  });

  it('round-trips signManifest for ES256 and EdDSA, and accepts surrounding whitespace and an upper-case kid', async () => {
    const es = await signManifest(payload, ecKey, ecKeyId);
    expect(await verifyManifest(`\n ${es}\r\n`, keys, PRODUCT)).toMatchObject({ ...payload, algorithm: 'ES256' });
    const edId = samplesIndex.keys['ed25519'].keyId;
    const ed = await signManifest(payload, samplePrivateKey('ed25519'), edId);
    expect(await verifyManifest(ed, keys, PRODUCT)).toMatchObject({ ...payload, signerKeyId: edId, algorithm: 'EdDSA' });
    const upper = await signRaw(JSON.stringify(payload), { alg: 'ES256', kid: ecKeyId.toUpperCase() });
    expect((await verifyManifest(upper, keys, PRODUCT)).signerKeyId).toBe(ecKeyId);
    const fully = await signRaw(JSON.stringify(payload), { alg: 'Ed25519' }).catch(() => null);
    expect(fully).toBeNull(); // an EC key cannot make an Ed25519 JWS: jose refuses, as it should
  });

  it('tries every trusted key of the algorithm when there is no kid', async () => {
    const jws = await signRaw(JSON.stringify(payload), { alg: 'ES256' });
    const other = samplePublicKey('other-p256');
    expect((await verifyManifest(jws, [other, ...keys], PRODUCT)).signerKeyId).toBe(ecKeyId);
    expect(await asyncOutcomeOf(() => verifyManifest(jws, [other], PRODUCT))).toBe('manifest.bad-signature');
    expect(await asyncOutcomeOf(() => verifyManifest(jws, [samplePublicKey('ed25519')], PRODUCT))).toBe('manifest.unknown-key');
  });

  it('names what is wrong with the JWS', async () => {
    /** A compact JWS with this header and a made-up signature. */
    const unsigned = (header: unknown, body = '{}') =>
      `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(body).toString('base64url')}.c2ln`;
    const edKeyId = samplesIndex.keys['ed25519'].keyId;
    const cases: Array<[string, string]> = [
      ['', 'manifest.malformed'],
      ['a.b', 'manifest.malformed'],
      ['a.b.c.d.e', 'manifest.malformed'],
      ['!!.??.**', 'manifest.malformed'],
      ['eyJhbGciOiJFUzI1NiJ9..c2ln', 'manifest.malformed'],
      ['bm90IGpzb24.e30.c2ln', 'manifest.malformed'],
      ['x'.repeat(20000), 'manifest.too-large'],
      [unsigned({ alg: 'ES256', kid: 42 }), 'manifest.malformed'],
      [unsigned({ alg: 'ES256', kid: 'beef' }), 'manifest.unknown-key'],
      [unsigned({ alg: 'EdDSA', kid: ecKeyId }), 'manifest.bad-signature'],
      [unsigned({ alg: 'ES256', kid: edKeyId }), 'manifest.bad-signature'],
      [unsigned({ alg: 'ES256', kid: ecKeyId }), 'manifest.bad-signature'],
      [unsigned({ alg: 'ES256', kid: ecKeyId, crit: ['exp'], exp: 1 }), 'manifest.unsupported-algorithm'],
      [unsigned({ alg: 'ES256', kid: ecKeyId, b64: false, crit: ['b64'] }), 'manifest.unsupported-algorithm'],
      [unsigned({ alg: 'none' }), 'manifest.unsupported-algorithm'],
      [unsigned({ alg: 'HS256' }), 'manifest.unsupported-algorithm'],
      [unsigned({ alg: 'RS256' }), 'manifest.unsupported-algorithm'],
      [unsigned({ alg: '__proto__' }), 'manifest.unsupported-algorithm'],
      [unsigned({}), 'manifest.unsupported-algorithm'],
      [unsigned([1]), 'manifest.malformed'],
    ];
    for (const [jws, code] of cases) {
      expect([jws, await asyncOutcomeOf(() => verifyManifest(jws, keys, PRODUCT))]).toEqual([jws, code]);
    }
    expect(await asyncOutcomeOf(() => verifyManifest(undefined as unknown as string, keys, PRODUCT))).toBe('manifest.malformed');
  });

  it('validates the payload strictly', async () => {
    const bad = [
      'not json',
      '[]',
      'null',
      '"x"',
      JSON.stringify({ ...payload, extra: 1 }),
      JSON.stringify({ ...payload, productId: undefined }),
      JSON.stringify({ ...payload, productId: '' }),
      JSON.stringify({ ...payload, productId: 'has space' }),
      JSON.stringify({ ...payload, version: '' }),
      JSON.stringify({ ...payload, version: 1 }),
      JSON.stringify({ ...payload, securityCounter: -1 }),
      JSON.stringify({ ...payload, securityCounter: 1.5 }),
      JSON.stringify({ ...payload, securityCounter: 2 ** 32 }),
      JSON.stringify({ ...payload, securityCounter: '5' }),
      JSON.stringify({ ...payload, digest: payload.digest.toUpperCase() }),
      JSON.stringify({ ...payload, digest: payload.digest.replace('sha256:', 'sha512:') }),
      JSON.stringify({ ...payload, digest: payload.digest.slice(0, -1) }),
      JSON.stringify({ ...payload, size: 0 }),
      JSON.stringify({ ...payload, size: 2 ** 53 }),
      JSON.stringify({ ...payload, size: '40000' }),
    ];
    for (const body of bad) {
      expect([body, await asyncOutcomeOf(async () => verifyManifest(await signRaw(body), keys, PRODUCT))]).toEqual([body, 'manifest.bad-payload']);
    }
    const invalidUtf8 = await new CompactSign(Buffer.from([0x7b, 0xff, 0x7d])).setProtectedHeader({ alg: 'ES256', kid: ecKeyId }).sign(ecKey);
    expect(await asyncOutcomeOf(() => verifyManifest(invalidUtf8, keys, PRODUCT))).toBe('manifest.bad-payload');
    expect(await asyncOutcomeOf(async () => verifyManifest(await signRaw(JSON.stringify(payload)), keys, 'prod-x'))).toBe(
      'manifest.product-mismatch',
    );
  });

  it('random strings are refused with a DomainError, never another exception', async () => {
    const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 120 });
    const compactish = fc.tuple(b64, b64, b64).map((p) => p.join('.'));
    const headerish = fc
      .tuple(fc.jsonValue(), fc.jsonValue(), b64)
      .map(([h, p, s]) => `${Buffer.from(JSON.stringify(h) ?? '').toString('base64url')}.${Buffer.from(JSON.stringify(p) ?? '').toString('base64url')}.${s}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), compactish, headerish), async (text) => {
        expect(await asyncOutcomeOf(() => verifyManifest(text, keys, PRODUCT))).toMatch(MANIFEST_CODE);
      }),
      { numRuns: 500 },
    );
  });

  it('a changed character anywhere in a good JWS is refused (or, base64url slack bits aside, decodes to the same manifest)', async () => {
    const original = await verifyManifest(goodJws, keys, PRODUCT);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...alphabet.split('')), async (n, c) => {
        const at = n % goodJws.length;
        fc.pre(goodJws[at] !== c);
        const jws = goodJws.slice(0, at) + c + goodJws.slice(at + 1);
        try {
          expect(await verifyManifest(jws, keys, PRODUCT)).toEqual(original);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          expect(e.code).toMatch(MANIFEST_CODE);
        }
      }),
      { numRuns: 400 },
    );
  });

  /** The payload rules of the spec, restated independently of firmware-manifest.schema.ts. */
  function expectedOutcome(v: any): string {
    const shaped =
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.keys(v).sort().join() === 'digest,productId,securityCounter,size,version' &&
      typeof v.productId === 'string' &&
      /^[\x21-\x7e]{1,128}$/.test(v.productId) &&
      typeof v.version === 'string' &&
      /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(v.version) &&
      Number.isInteger(v.securityCounter) &&
      v.securityCounter >= 0 &&
      v.securityCounter <= 0xffffffff &&
      typeof v.digest === 'string' &&
      /^sha256:[0-9a-f]{64}$/.test(v.digest) &&
      Number.isSafeInteger(v.size) &&
      v.size >= 1;
    if (!shaped) return 'manifest.bad-payload';
    return v.productId === PRODUCT ? 'ok' : 'manifest.product-mismatch';
  }

  it('any JSON payload, properly signed, is accepted only if it has exactly the manifest shape', async () => {
    const fields = fc.record(
      {
        productId: fc.oneof(fc.constant(PRODUCT), fc.jsonValue()),
        version: fc.oneof(fc.constant('1.0.0'), fc.jsonValue()),
        securityCounter: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 2 ** 33 }), fc.constantFrom(0xffffffff, 2 ** 32), fc.jsonValue(), fc.double()),
        digest: fc.oneof(fc.constant(payload.digest), fc.jsonValue()),
        size: fc.oneof(fc.integer({ min: 1 }), fc.jsonValue()),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fields, fc.jsonValue()), async (value) => {
        const body = JSON.stringify(value) ?? 'null';
        const outcome = await asyncOutcomeOf(async () => verifyManifest(await signRaw(body), keys, PRODUCT));
        expect(outcome).toBe(expectedOutcome(JSON.parse(body)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('signManifest', () => {
  it('refuses a bad payload, a public key and a key type manifests do not use', async () => {
    await expect(signManifest({ ...payload, size: -1 }, ecKey, ecKeyId)).rejects.toMatchObject({ code: 'manifest.bad-payload' });
    await expect(signManifest(payload, samplePublicKey('ec-p256').keyObject, ecKeyId)).rejects.toMatchObject({ code: 'signing-key.unsupported-algorithm' });
    await expect(signManifest(payload, samplePrivateKey('rsa-3072'), 'x')).rejects.toMatchObject({ code: 'signing-key.unsupported-algorithm' });
    await expect(signManifest(payload, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'x')).rejects.toMatchObject({
      code: 'signing-key.unsupported-algorithm',
    });
  });
});

describe('detached image verification', () => {
  let manifest: VerifiedManifest;
  beforeAll(async () => {
    manifest = await verifyManifest(goodJws, keys, PRODUCT);
  });

  it('streamed in chunks of random sizes gives the same verdict as one buffer', async () => {
    const whole = verifyDetachedImage(goodBin, manifest);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 12 }), async (sizes) => {
        expect(await verifyDetachedImageStream(streamOf(splitBytes(goodBin, sizes)), manifest)).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('any other bytes are refused by size or digest, whatever the chunking', async () => {
    const other = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([n, x]) => {
        const b = Buffer.from(goodBin);
        b[n % b.length] ^= x;
        return b;
      }),
      fc.uint8Array({ minLength: 1, maxLength: 30 }).map((extra) => Buffer.concat([goodBin, extra])),
      fc.nat().map((n) => goodBin.subarray(0, n % goodBin.length)),
    );
    await fc.assert(
      fc.asyncProperty(other, fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }), async (bytes, sizes) => {
        const code = bytes.length === goodBin.length ? 'manifest.digest-mismatch' : 'manifest.size-mismatch';
        expect(await asyncOutcomeOf(() => verifyDetachedImageStream(streamOf(splitBytes(bytes, sizes)), manifest))).toBe(code);
        expect(outcomeOf(() => verifyDetachedImage(bytes, manifest))).toBe(code);
      }),
      { numRuns: 200 },
    );
  });

  it('stops reading as soon as the image is longer than its manifest says', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.alloc(16 * 1024);
      }
    }
    await expect(verifyDetachedImageStream(source(), manifest)).rejects.toMatchObject({ code: 'manifest.size-mismatch' });
    expect(pulled).toBe(3);
    const v = new DetachedImageStreamVerifier(manifest);
    expect(() => v.update(Buffer.alloc(goodBin.length + 1))).toThrow(expect.objectContaining({ code: 'manifest.size-mismatch' }));
    expect(() => v.finish()).toThrow(expect.objectContaining({ code: 'manifest.size-mismatch' }));
  });
});
