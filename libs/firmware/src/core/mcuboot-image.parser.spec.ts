import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isDomainError } from '@fleetguard/common';
import { TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC } from './mcuboot-image.format';
import { McubootStreamParser, parseMcubootHeader, parseTlvArea } from './mcuboot-image.parser';
import { outcomeOf, sampleBytes, splitBytes } from './testing/firmware-samples';
import { splitImage } from './testing/mcuboot-bytes';

const ecdsa = sampleBytes('good-ecdsa-p256.mcuboot.bin');

describe('parseMcubootHeader', () => {
  it('reads the fields generate.sh packed', () => {
    expect(parseMcubootHeader(ecdsa)).toEqual({
      loadAddress: 0x8000,
      headerSize: 0x200,
      protectedTlvSize: 12,
      imageSize: 5000,
      flags: 0,
      version: { major: 1, minor: 2, revision: 3, build: 4 },
    });
  });

  it('refuses short input, a bad magic, a header size below 32 and a protected size below 4', () => {
    expect(outcomeOf(() => parseMcubootHeader(Buffer.alloc(3)))).toBe('mcuboot.truncated');
    expect(outcomeOf(() => parseMcubootHeader(ecdsa.subarray(0, 31)))).toBe('mcuboot.truncated');
    expect(outcomeOf(() => parseMcubootHeader(Buffer.alloc(32)))).toBe('mcuboot.bad-magic');
    const small = Buffer.from(ecdsa.subarray(0, 32));
    small.writeUInt16LE(31, 8);
    expect(outcomeOf(() => parseMcubootHeader(small))).toBe('mcuboot.bad-header');
    const prot = Buffer.from(ecdsa.subarray(0, 32));
    prot.writeUInt16LE(3, 10);
    expect(outcomeOf(() => parseMcubootHeader(prot))).toBe('mcuboot.length-mismatch');
  });

  it('refuses encrypted images (hash and signature cover the plaintext) as unsupported', () => {
    for (const flag of [0x04, 0x08]) {
      const encrypted = Buffer.from(ecdsa.subarray(0, 32));
      encrypted.writeUInt32LE(flag, 16);
      expect(() => parseMcubootHeader(encrypted)).toThrow(expect.objectContaining({ code: 'mcuboot.encrypted', kind: 'unsupported' }));
    }
  });
});

describe('parseTlvArea', () => {
  const area = (magic: number, total: number, rest: number[]) => {
    const b = Buffer.alloc(4);
    b.writeUInt16LE(magic, 0);
    b.writeUInt16LE(total, 2);
    return Buffer.concat([b, Buffer.from(rest)]);
  };

  it('reads TLVs that exactly fill the area', () => {
    const tlvs = parseTlvArea(area(TLV_INFO_MAGIC, 13, [0x10, 0, 1, 0, 0xaa, 0x01, 0, 0, 0]), TLV_INFO_MAGIC);
    expect(tlvs).toEqual([
      { type: 0x10, value: Buffer.from([0xaa]) },
      { type: 0x01, value: Buffer.alloc(0) },
    ]);
    expect(parseTlvArea(area(TLV_PROT_INFO_MAGIC, 4, []), TLV_PROT_INFO_MAGIC)).toEqual([]);
  });

  it('refuses wrong magics, totals that disagree, and TLVs that run past the area', () => {
    expect(outcomeOf(() => parseTlvArea(Buffer.alloc(3), TLV_INFO_MAGIC))).toBe('mcuboot.length-mismatch');
    expect(outcomeOf(() => parseTlvArea(area(TLV_PROT_INFO_MAGIC, 4, []), TLV_INFO_MAGIC))).toBe('mcuboot.bad-tlv-magic');
    expect(outcomeOf(() => parseTlvArea(area(TLV_INFO_MAGIC, 5, []), TLV_INFO_MAGIC))).toBe('mcuboot.length-mismatch');
    expect(outcomeOf(() => parseTlvArea(area(TLV_INFO_MAGIC, 7, [1, 0, 0]), TLV_INFO_MAGIC))).toBe('mcuboot.length-mismatch');
    expect(outcomeOf(() => parseTlvArea(area(TLV_INFO_MAGIC, 9, [1, 0, 2, 0, 0]), TLV_INFO_MAGIC))).toBe('mcuboot.length-mismatch');
    expect(outcomeOf(() => parseTlvArea(area(TLV_INFO_MAGIC, 9, [1, 0, 0xff, 0xff, 0]), TLV_INFO_MAGIC))).toBe('mcuboot.length-mismatch');
  });

  it('on any bytes, either refuses with a DomainError or returns TLVs that tile the area exactly', () => {
    const areas = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc
        .tuple(fc.uint8Array({ maxLength: 300 }), fc.boolean())
        .map(([b, honest]) => area(TLV_INFO_MAGIC, honest ? 4 + b.length : b.length, [...b])),
    );
    fc.assert(
      fc.property(areas, (bytes) => {
        let tlvs;
        try {
          tlvs = parseTlvArea(bytes, TLV_INFO_MAGIC);
        } catch (e) {
          expect(isDomainError(e)).toBe(true);
          return;
        }
        const covered = tlvs.reduce((sum, t) => sum + 4 + t.value.length, 4);
        expect(covered).toBe(bytes.length);
        for (const t of tlvs) expect(t.value.buffer).toBe(bytes.buffer);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('McubootStreamParser', () => {
  it('hashes header + body + protected area once, and the whole file, in any chunking', () => {
    const parts = splitImage(ecdsa);
    const imageHash = createHash('sha256').update(parts.region).digest();
    const fileHash = createHash('sha256').update(ecdsa).digest();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 10 }), (sizes) => {
        const parser = new McubootStreamParser();
        for (const chunk of splitBytes(ecdsa, sizes)) parser.update(chunk);
        const parsed = parser.finish();
        expect(parsed.imageHash).toEqual(imageHash);
        expect(parsed.fileHash).toEqual(fileHash);
        expect(parsed.size).toBe(ecdsa.length);
        expect(parsed.protectedTlvs).toEqual([{ type: 0x50, value: Buffer.from([5, 0, 0, 0]) }]);
        expect(parsed.unprotectedTlvs.map((t) => t.type)).toEqual(parts.tlvs.map((t) => t.type));
      }),
      { numRuns: 100 },
    );
  });

  it('accepts typed-array chunks that are not Buffers', () => {
    const parser = new McubootStreamParser();
    const copy = new Uint8Array(ecdsa.length + 10).subarray(5, 5 + ecdsa.length);
    copy.set(ecdsa);
    parser.update(copy);
    expect(parser.finish().size).toBe(ecdsa.length);
  });

  it('refuses a protected area the header does not declare', () => {
    const image = Buffer.from(ecdsa);
    image.writeUInt16LE(0, 10);
    expect(
      outcomeOf(() => {
        const p = new McubootStreamParser();
        p.update(image);
        p.finish();
      }),
    ).toBe('mcuboot.bad-tlv-magic');
  });

  it('refuses an unprotected area smaller than its info', () => {
    const parts = splitImage(ecdsa);
    const image = Buffer.from(ecdsa);
    image.writeUInt16LE(3, parts.unprotectedInfoOffset + 2);
    expect(outcomeOf(() => new McubootStreamParser().update(image))).toBe('mcuboot.length-mismatch');
  });
});

describe('loading', () => {
  it('the verifier loads @noble/curves lazily: without it (plain jest), Ed25519 and RSA images still verify', async () => {
    const { verifyMcubootImage } = await import('./mcuboot-image.verifier');
    const { trustedSampleKeys } = await import('./testing/firmware-samples');
    for (const file of ['good-ed25519.mcuboot.bin', 'good-rsa-pss.mcuboot.bin']) {
      expect(verifyMcubootImage(sampleBytes(file), trustedSampleKeys()).size).toBe(sampleBytes(file).length);
    }
  });
});
