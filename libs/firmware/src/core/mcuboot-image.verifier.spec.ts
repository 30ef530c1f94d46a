/** @jest-environment ./libs/firmware/src/core/testing/noble.jest-environment.cjs */
jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist);

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { TLV } from './mcuboot-image.format';
import { McubootStreamVerifier, verifyMcubootImage, verifyMcubootStream } from './mcuboot-image.verifier';
import { splitImage, withUnprotectedTlvs } from './testing/mcuboot-bytes';
import {
  asyncOutcomeOf,
  goodMcubootSamples,
  outcomeOf,
  sampleBytes,
  samplePublicKey,
  splitBytes,
  streamOf,
  trustedSampleKeys,
} from './testing/firmware-samples';

const keys = trustedSampleKeys();
const good = goodMcubootSamples().map((s) => ({ name: s.file, bytes: sampleBytes(s.file) }));
const ecdsa = sampleBytes('good-ecdsa-p256.mcuboot.bin');
const ed25519 = sampleBytes('good-ed25519.mcuboot.bin');
const rsa = sampleBytes('good-rsa-pss.mcuboot.bin');
const verify = (bytes: Buffer) => outcomeOf(() => verifyMcubootImage(bytes, keys));
const MCUBOOT_CODE = /^mcuboot\.[a-z-]+$/;
const MAGIC = Buffer.from([0x3d, 0xb8, 0xf3, 0x96]);

/** Verdict or error code, for comparing two ways of feeding the same bytes. */
async function streamedOutcome(bytes: Buffer, sizes: number[]): Promise<unknown> {
  try {
    return await verifyMcubootStream(streamOf(splitBytes(bytes, sizes)), keys);
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
}
function wholeOutcome(bytes: Buffer): unknown {
  try {
    return verifyMcubootImage(bytes, keys);
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
}

describe('MCUboot verification: robustness (fast-check)', () => {
  it('random bytes are refused with a DomainError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        expect(verify(Buffer.from(bytes))).toMatch(MCUBOOT_CODE);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes behind a valid magic are refused with a DomainError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        expect(verify(Buffer.concat([MAGIC, bytes]))).toMatch(MCUBOOT_CODE);
      }),
      { numRuns: 500 },
    );
  });

  it('structured random images (plausible header, random TLV areas and lengths) are refused, in bounded time', () => {
    const image = fc
      .record({
        headerSize: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constant(32), fc.integer({ min: 0, max: 0xffff })),
        imageSize: fc.oneof(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 0xffffffff })),
        protectedSize: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0xffff })),
        fill: fc.uint8Array({ maxLength: 512 }),
        tlvs: fc.array(
          fc.record({ type: fc.oneof(fc.constantFrom(...Object.values(TLV)), fc.integer({ min: 0, max: 0xffff })), value: fc.uint8Array({ maxLength: 80 }), lie: fc.option(fc.integer({ min: 0, max: 0xffff })) }),
          { maxLength: 8 },
        ),
        infoMagic: fc.constantFrom(0x6907, 0x6908, 0x0000),
        totalLie: fc.option(fc.integer({ min: 0, max: 0xffff })),
      })
      .map((r) => {
        const header = Buffer.alloc(32);
        MAGIC.copy(header, 0);
        header.writeUInt16LE(r.headerSize, 8);
        header.writeUInt16LE(r.protectedSize, 10);
        header.writeUInt32LE(r.imageSize, 12);
        const tlvs = Buffer.concat(
          r.tlvs.map((t) => {
            const h = Buffer.alloc(4);
            h.writeUInt16LE(t.type, 0);
            h.writeUInt16LE(t.lie ?? t.value.length, 2);
            return Buffer.concat([h, t.value]);
          }),
        );
        const info = Buffer.alloc(4);
        info.writeUInt16LE(r.infoMagic, 0);
        info.writeUInt16LE(r.totalLie ?? (4 + tlvs.length) & 0xffff, 2);
        return Buffer.concat([header, Buffer.from(r.fill), info, tlvs]);
      });
    fc.assert(
      fc.property(image, (bytes) => {
        expect(verify(bytes)).toMatch(MCUBOOT_CODE);
      }),
      { numRuns: 1000 },
    );
  });

  it('every truncation of a good image (each length of the Ed25519 sample) is refused as truncated', () => {
    for (let length = 0; length < ed25519.length; length++) {
      const outcome = verify(ed25519.subarray(0, length));
      if (outcome !== 'mcuboot.truncated') throw new Error(`length ${length}: ${outcome}`);
    }
  });

  it('truncations of every good sample, anywhere, are refused as truncated', () => {
    fc.assert(
      fc.property(fc.constantFrom(...good), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (sample, at) => {
        const length = Math.floor(at * sample.bytes.length);
        expect(verify(sample.bytes.subarray(0, length))).toBe('mcuboot.truncated');
      }),
      { numRuns: 300 },
    );
  });

  it('header and TLV length fields set to lying values give a DomainError', () => {
    type Field = { name: string; offset: number; width: 2 | 4 };
    const fieldsOf = (image: Buffer): Field[] => {
      const parts = splitImage(image);
      const fields: Field[] = [
        { name: 'hdr_size', offset: 8, width: 2 },
        { name: 'protect_tlv_size', offset: 10, width: 2 },
        { name: 'img_size', offset: 12, width: 4 },
        { name: 'unprotected tlv_tot', offset: parts.unprotectedInfoOffset + 2, width: 2 },
        ...parts.tlvs.map((t) => ({ name: `unprotected TLV 0x${t.type.toString(16)} len`, offset: t.offset + 2, width: 2 as const })),
        ...parts.protectedTlvOffsets.map((o) => ({ name: 'protected TLV len', offset: o + 2, width: 2 as const })),
      ];
      if (parts.protectedInfoOffset !== null) fields.push({ name: 'protected tlv_tot', offset: parts.protectedInfoOffset + 2, width: 2 });
      return fields;
    };
    const cases = fc.constantFrom(...good).chain((sample) =>
      fc.record({
        sample: fc.constant(sample),
        field: fc.constantFrom(...fieldsOf(sample.bytes)),
        value: fc.oneof(
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: -64, max: 64 }),
          fc.constantFrom(0, 1, 3, 4, 5, 31, 32, 0x7fff, 0x8000, 0xffff, 0xffffffff),
        ),
      }),
    );
    fc.assert(
      fc.property(cases, ({ sample, field, value }) => {
        const bytes = Buffer.from(sample.bytes);
        const original = field.width === 2 ? bytes.readUInt16LE(field.offset) : bytes.readUInt32LE(field.offset);
        // small values are deltas from the original, to lie by a little as well as by a lot
        let lie = value >= -64 && value <= 64 ? original + value : value;
        lie = field.width === 2 ? ((lie % 0x10000) + 0x10000) % 0x10000 : ((lie % 0x100000000) + 0x100000000) % 0x100000000;
        fc.pre(lie !== original);
        if (field.width === 2) bytes.writeUInt16LE(lie, field.offset);
        else bytes.writeUInt32LE(lie, field.offset);
        expect(verify(bytes)).toMatch(MCUBOOT_CODE);
      }),
      { numRuns: 1000 },
    );
  });

  it('changing any single byte of a good image makes it fail', () => {
    // In the multi-signed sample the first signature is by an untrusted key: its unsigned KEYHASH
    // and signature TLVs may change without effect (a signature whose key is unknown is skipped,
    // even when its type byte now names another algorithm), as in MCUboot.
    const multi = splitImage(sampleBytes('good-multi-signed.mcuboot.bin'));
    const untrusted = multi.tlvs.slice(1, 3).map((t) => [t.offset, t.offset + 4 + t.value.length]);
    const mayStillVerify = (name: string, at: number) =>
      name === 'good-multi-signed.mcuboot.bin' && untrusted.some(([from, to]) => at >= from && at < to);
    fc.assert(
      fc.property(fc.constantFrom(...good), fc.nat(), fc.integer({ min: 1, max: 255 }), (sample, n, xor) => {
        const bytes = Buffer.from(sample.bytes);
        const at = n % bytes.length;
        bytes[at] ^= xor;
        const outcome = verify(bytes);
        if (!(outcome === 'ok' && mayStillVerify(sample.name, at))) expect(outcome).toMatch(MCUBOOT_CODE);
      }),
      { numRuns: 1000 },
    );
  });

  it('bytes appended to a good image are refused as trailing data', () => {
    fc.assert(
      fc.property(fc.constantFrom(...good), fc.uint8Array({ minLength: 1, maxLength: 64 }), (sample, extra) => {
        expect(verify(Buffer.concat([sample.bytes, extra]))).toBe('mcuboot.trailing-data');
      }),
    );
  });
});

describe('MCUboot verification: streaming', () => {
  it('chunks of random sizes give the same verdict as one buffer (good and damaged images)', async () => {
    const image = fc.oneof(
      fc.constantFrom(...good).map((s) => s.bytes),
      fc.tuple(fc.constantFrom(...good), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([s, at, xor]) => {
        const b = Buffer.from(s.bytes);
        b[at % b.length] ^= xor;
        return b;
      }),
      fc.tuple(fc.constantFrom(...good), fc.nat()).map(([s, at]) => s.bytes.subarray(0, at % s.bytes.length)),
    );
    await fc.assert(
      fc.asyncProperty(image, fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), async (bytes, sizes) => {
        expect(await streamedOutcome(bytes, sizes)).toEqual(wholeOutcome(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('splitting a good image in two at every offset gives the same verdict', () => {
    const expected = verifyMcubootImage(ed25519, keys);
    for (let at = 0; at <= ed25519.length; at++) {
      const v = new McubootStreamVerifier();
      v.update(ed25519.subarray(0, at));
      v.update(ed25519.subarray(at));
      expect(v.finish(keys)).toEqual(expected);
    }
  });

  it('one byte at a time gives the same verdict', () => {
    const v = new McubootStreamVerifier();
    for (let i = 0; i < rsa.length; i++) v.update(rsa.subarray(i, i + 1));
    expect(v.finish(keys)).toEqual(verifyMcubootImage(rsa, keys));
  });

  it('refuses a bad magic after 4 bytes and stops reading the stream', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(4096, 0xee);
      }
    }
    await expect(verifyMcubootStream(source(), keys)).rejects.toMatchObject({ code: 'mcuboot.bad-magic' });
    expect(pulled).toBe(1);
  });

  it('refuses trailing data as it arrives and stops reading', async () => {
    let pulled = 0;
    async function* source() {
      pulled++;
      yield ed25519;
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(1024, 0x5a); // neither erased value, so not slot padding
      }
    }
    await expect(verifyMcubootStream(source(), keys)).rejects.toMatchObject({ code: 'mcuboot.trailing-data' });
    expect(pulled).toBe(2);
  });

  it('refuses from the header an image declaring more than maxImageBytes', () => {
    const v = new McubootStreamVerifier({ maxImageBytes: 1000 });
    expect(() => v.update(ecdsa.subarray(0, 32))).toThrow(expect.objectContaining({ code: 'mcuboot.too-large', kind: 'too-large' }));
    expect(() => v.update(ecdsa.subarray(32, 40))).toThrow(expect.objectContaining({ code: 'mcuboot.too-large' }));
  });

  it('bounds the buffered unprotected TLV area', () => {
    expect(outcomeOf(() => verifyMcubootImage(ecdsa, keys, { maxTrailerBytes: 64 }))).toBe('mcuboot.too-large');
  });

  it('refuses strings (a stream with an encoding set)', async () => {
    async function* source() {
      yield 'not bytes';
    }
    await expect(verifyMcubootStream(source(), keys)).rejects.toThrow(TypeError);
  });

  it('finish() can be repeated with another key set; the error of a failed image sticks', () => {
    const v = new McubootStreamVerifier();
    v.update(ecdsa);
    expect(v.finish(keys).signerKeyId).toBe(samplePublicKey('ec-p256').keyId);
    expect(() => v.finish([samplePublicKey('ed25519')])).toThrow(expect.objectContaining({ code: 'mcuboot.unknown-key' }));
    expect(() => v.update(Buffer.alloc(1))).toThrow(Error);

    const bad = new McubootStreamVerifier();
    expect(() => bad.update(Buffer.from('nope, not mcuboot'))).toThrow(expect.objectContaining({ code: 'mcuboot.bad-magic' }));
    expect(() => bad.update(ecdsa)).toThrow(expect.objectContaining({ code: 'mcuboot.bad-magic' }));
    expect(() => bad.finish(keys)).toThrow(expect.objectContaining({ code: 'mcuboot.bad-magic' }));
  });
});

describe('MCUboot verification: TLV semantics', () => {
  // The unprotected area is unsigned, so tests may rebuild it around a sample's signed region.
  const parts = splitImage(ecdsa);
  const find = (type: number) => parts.tlvs.find((t) => t.type === type)!;
  const [sha, keyhash, sig] = [find(TLV.SHA256), find(TLV.KEYHASH), find(TLV.ECDSA_SIG)];
  const rebuilt = (tlvs: Array<{ type: number; value: Buffer }>) => verify(withUnprotectedTlvs(parts.region, tlvs));

  it('accepts the sample rebuilt as it was', () => {
    expect(rebuilt([sha, keyhash, sig])).toBe('ok');
  });

  it('accepts a PUBKEY TLV (the whole SPKI) in place of the KEYHASH', () => {
    expect(rebuilt([sha, { type: TLV.PUBKEY, value: samplePublicKey('ec-p256').spkiDer }, sig])).toBe('ok');
    expect(rebuilt([sha, { type: TLV.PUBKEY, value: samplePublicKey('other-p256').spkiDer }, sig])).toBe('mcuboot.unknown-key');
  });

  it('accepts an RSA key under either KEYHASH form (PKCS#1 as imgtool writes it, or SPKI)', () => {
    const r = splitImage(rsa);
    const rsaKey = samplePublicKey('rsa-3072');
    const [rsha, rsig] = [r.tlvs.find((t) => t.type === TLV.SHA256)!, r.tlvs.find((t) => t.type === TLV.RSA3072_PSS)!];
    const spkiHash = createHash('sha256').update(rsaKey.spkiDer).digest();
    expect(outcomeOf(() => verifyMcubootImage(withUnprotectedTlvs(r.region, [rsha, { type: TLV.KEYHASH, value: spkiHash }, rsig]), keys))).toBe('ok');
    // the same signature under the RSA2048_PSS type cannot come from a 3072-bit key
    expect(
      outcomeOf(() => verifyMcubootImage(withUnprotectedTlvs(r.region, [rsha, r.tlvs[1], { type: TLV.RSA2048_PSS, value: rsig.value }]), keys)),
    ).toBe('mcuboot.bad-signature');
  });

  it('accepts an ECDSA signature zero-padded to 72 bytes (imgtool --pad-sig) and its high-S twin', () => {
    const padded = Buffer.concat([sig.value, Buffer.alloc(72 - sig.value.length)]);
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA_SIG, value: padded }])).toBe('ok');
    const { p256 } = (globalThis as any).__fleetguardNobleNist;
    const s = p256.Signature.fromBytes(sig.value, 'der');
    const twin = new p256.Signature(s.r, p256.Point.CURVE().n - s.s).toBytes('der');
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA_SIG, value: Buffer.from(twin) }])).toBe('ok');
  });

  it('names what is wrong', () => {
    expect(rebuilt([keyhash, sig])).toBe('mcuboot.missing-hash');
    expect(rebuilt([sha, sha, keyhash, sig])).toBe('mcuboot.duplicate-tlv');
    expect(rebuilt([{ type: TLV.SHA384, value: Buffer.alloc(48) }, sha, keyhash, sig])).toBe('mcuboot.duplicate-tlv');
    // No trusted key is P-384, so nothing signs SHA-384 images: the hash is not even computed.
    expect(rebuilt([{ type: TLV.SHA384, value: Buffer.alloc(48) }, keyhash, sig])).toBe('mcuboot.unsupported-hash');
    expect(rebuilt([{ type: TLV.SHA256, value: sha.value.subarray(1) }, keyhash, sig])).toBe('mcuboot.bad-tlv');
    expect(rebuilt([sha])).toBe('mcuboot.no-signature');
    expect(rebuilt([sha, sig])).toBe('mcuboot.unknown-key');
    expect(rebuilt([sha, { type: TLV.KEYHASH, value: keyhash.value.subarray(1) }, sig])).toBe('mcuboot.bad-tlv');
    expect(rebuilt([sha, keyhash, { type: TLV.ED25519, value: Buffer.alloc(64) }])).toBe('mcuboot.bad-signature');
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA_SIG, value: Buffer.from([0x30, 0x02, 0x02, 0x00]) }])).toBe('mcuboot.bad-signature');
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA224, value: sig.value }])).toBe('mcuboot.unsupported-signature');
    expect(rebuilt([sha, keyhash, sig, { type: TLV.DEPENDENCY, value: Buffer.alloc(12) }])).toBe('mcuboot.unprotected-tlv');
    expect(rebuilt([sha, keyhash, sig, { type: 0xa0, value: Buffer.alloc(3) }])).toBe('mcuboot.unprotected-tlv');
  });

  it('one good signature among bad ones is enough; a known key with a bad signature is reported as such', () => {
    const badSig = Buffer.from(sig.value);
    badSig[badSig.length - 1] ^= 1;
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA_SIG, value: badSig }, keyhash, sig])).toBe('ok');
    expect(rebuilt([sha, keyhash, { type: TLV.ECDSA_SIG, value: badSig }])).toBe('mcuboot.bad-signature');
  });

  it('reads SEC_CNT only from the protected (signed) area', async () => {
    const verdict = verifyMcubootImage(ecdsa, keys);
    expect(verdict.securityCounter).toBe(5);
    expect(await asyncOutcomeOf(() => verifyMcubootStream(streamOf([sampleBytes('unprotected-counter.mcuboot.bin')]), keys))).toBe(
      'mcuboot.unprotected-tlv',
    );
  });
});
