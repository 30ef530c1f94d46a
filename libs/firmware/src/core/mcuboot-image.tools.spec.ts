/** @jest-environment ./libs/firmware/src/core/testing/noble.jest-environment.cjs */
jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist);

import * as fs from 'node:fs';
import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { readIntelHex } from './intel-hex.reader';
import { verifyMcubootImage, verifyMcubootStream } from './mcuboot-image.verifier';
import { checkReleasePolicy } from './release.policy';
import { signingKeyFromPem, SigningKey } from './signing-key';
import { imageEnd, makeTestDir, makeTestImage, makeTestKey, TestImageOptions, TestKey, toIntelHex } from './testing/imgtool-images';
import { splitBytes, streamOf } from './testing/firmware-samples';

/**
 * The images imgtool makes that users upload (padded slots, confirmed, P-384, SHA-512, pure
 * Ed25519, flags, Intel HEX), built by a test helper from MCUboot's documented format and signed
 * by openssl; then each damaged in the ways that matter.
 */
let dir: string;
let k: Record<'p256' | 'p384' | 'ed25519' | 'other', TestKey>;
let trusted: SigningKey[];
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
};

beforeAll(() => {
  dir = makeTestDir();
  k = { p256: makeTestKey(dir, 'p256'), p384: makeTestKey(dir, 'p384'), ed25519: makeTestKey(dir, 'ed25519'), other: makeTestKey(dir, 'ed25519', 'other') };
  trusted = [k.p256, k.p384, k.ed25519].map((x) => signingKeyFromPem(x.publicPem));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const keyId = (x: TestKey) => signingKeyFromPem(x.publicPem).keyId;
const SLOT = 0x4000;

describe('MCUboot images as imgtool signs them', () => {
  it.each<[string, () => TestImageOptions, string, string]>([
    ['ECDSA P-384 with SHA-384', () => ({ key: k.p384 }), 'ecdsa-p384-sha384', 'sha384'],
    ['Ed25519 with SHA-512 (--sha 512)', () => ({ key: k.ed25519, sha: 512 }), 'ed25519-sha512', 'sha512'],
    ['pure Ed25519 (--pure)', () => ({ key: k.ed25519, pure: true }), 'ed25519-pure', 'sha512'],
    ['ECDSA P-256 with SHA-256', () => ({ key: k.p256 }), 'ecdsa-p256-sha256', 'sha256'],
  ])('%s verifies, naming the scheme and the image hash', (_name, options, scheme, hash) => {
    const o = options();
    const v = verifyMcubootImage(makeTestImage(o), trusted);
    expect(v).toMatchObject({ version: '2.1.0+9', securityCounter: 7, signature: scheme, signerKeyId: keyId(o.key), slotTrailer: null, flags: [] });
    expect(v.imageHash).toMatch(new RegExp(`^${hash}:[0-9a-f]+$`));
    expect(v.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a P-384 image is refused when no P-384 key is trusted (its SHA-384 is not even computed)', () => {
    const only256 = [signingKeyFromPem(k.p256.publicPem)];
    expect(code(() => verifyMcubootImage(makeTestImage({ key: k.p384 }), only256))).toBe('mcuboot.unsupported-hash');
  });

  it.each<[string, Partial<TestImageOptions['pad']>, { erasedValue: number; maxAlign: number; confirmed: boolean }]>([
    ['--pad (test upgrade)', {}, { erasedValue: 0xff, maxAlign: 8, confirmed: false }],
    ['--pad --confirm', { confirm: true }, { erasedValue: 0xff, maxAlign: 8, confirmed: true }],
    ['--pad --overwrite-only --confirm', { overwriteOnly: true, confirm: true }, { erasedValue: 0xff, maxAlign: 8, confirmed: false }],
    ['--align 32 --confirm', { align: 32, confirm: true, maxSectors: 64 }, { erasedValue: 0xff, maxAlign: 32, confirmed: true }],
    ['--max-align 16 --erased-val 0 --confirm', { maxAlign: 16, erasedVal: 0x00, confirm: true }, { erasedValue: 0x00, maxAlign: 16, confirmed: true }],
  ])('a slot image (%s) verifies with its trailer read', (_name, pad, trailer) => {
    for (const key of [k.p256, k.p384, k.ed25519]) {
      const image = makeTestImage({ key, pad: { slotSize: SLOT, ...pad } });
      expect(image.length).toBe(SLOT);
      const v = verifyMcubootImage(image, trusted);
      expect(v.size).toBe(SLOT);
      expect(v.imageBytes).toBe(imageEnd(image));
      expect(v.slotTrailer).toEqual({ ...trailer, paddedBytes: SLOT - imageEnd(image) });
      expect(v.digest).toBe(verifyMcubootImage(image.subarray(0, imageEnd(image)), trusted).digest);
    }
  });

  it('streams a padded slot image in chunks of any size to the same verdict', async () => {
    const image = makeTestImage({ key: k.ed25519, pure: true, pad: { slotSize: SLOT, confirm: true } });
    const whole = verifyMcubootImage(image, trusted);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 12 }), async (sizes) => {
        expect(await verifyMcubootStream(streamOf(splitBytes(image, sizes)), trusted)).toEqual(whole);
      }),
      { numRuns: 40 },
    );
  });

  it('reads and shows header flags; the release policy refuses non-bootable images and those without a counter', () => {
    const ram = verifyMcubootImage(makeTestImage({ key: k.p256, flags: 0x20 }), trusted);
    expect(ram.flags).toEqual(['ram-load']);
    expect(code(() => checkReleasePolicy(ram, { minSecurityCounter: 7 }))).toBe('ok');
    const nonBootable = verifyMcubootImage(makeTestImage({ key: k.p256, flags: 0x10 }), trusted);
    expect(nonBootable.flags).toEqual(['non-bootable']);
    expect(code(() => checkReleasePolicy(nonBootable))).toBe('firmware.non-bootable');
    const noCounter = verifyMcubootImage(makeTestImage({ key: k.p384, securityCounter: null }), trusted);
    expect(code(() => checkReleasePolicy(noCounter))).toBe('firmware.no-security-counter');
    expect(code(() => checkReleasePolicy(ram, { minSecurityCounter: 8 }))).toBe('firmware.rollback');
    expect(code(() => verifyMcubootImage(makeTestImage({ key: k.p256, flags: 0x08 }), trusted))).toBe('mcuboot.encrypted');
  });
});

describe('damaged imgtool images are refused with the reason', () => {
  const padded = () => makeTestImage({ key: k.p384, pad: { slotSize: SLOT, confirm: true } });
  const flip = (b: Buffer, at: number, xor = 0x01) => {
    const c = Buffer.from(b);
    c[at] ^= xor;
    return c;
  };

  it.each<[string, () => Buffer, string]>([
    ['a body byte of a P-384 image', () => flip(makeTestImage({ key: k.p384 }), 0x300), 'mcuboot.hash-mismatch'],
    ['a body byte of a pure image', () => flip(makeTestImage({ key: k.ed25519, pure: true }), 0x300), 'mcuboot.hash-mismatch'],
    ['the P-384 signature', () => { const b = makeTestImage({ key: k.p384 }); return flip(b, imageEnd(b) - 10); }, 'mcuboot.bad-signature'],
    ['the pure signature', () => { const b = makeTestImage({ key: k.ed25519, pure: true }); return flip(b, imageEnd(b) - 10); }, 'mcuboot.bad-signature'],
    ['the SHA-512 signature', () => { const b = makeTestImage({ key: k.ed25519, sha: 512 }); return flip(b, imageEnd(b) - 1); }, 'mcuboot.bad-signature'],
    ['a padding byte', () => { const b = padded(); return flip(b, imageEnd(b) + 100); }, 'mcuboot.trailing-data'],
    ['the first padding byte', () => { const b = padded(); return flip(b, imageEnd(b), 0x5a); }, 'mcuboot.trailing-data'],
    ['the trailer magic', () => flip(padded(), SLOT - 3), 'mcuboot.trailing-data'],
    ['image_ok (neither set nor erased)', () => flip(padded(), SLOT - 24, 0x02 ^ 0x01), 'mcuboot.bad-trailer'],
    ['a swap-status byte near the end', () => flip(padded(), SLOT - 40), 'mcuboot.bad-trailer'],
  ])('%s changed', (_name, make, expected) => {
    expect(code(() => verifyMcubootImage(make(), trusted))).toBe(expected);
  });

  it('a signature by an untrusted key, and a padded image cut short, are refused', () => {
    expect(code(() => verifyMcubootImage(makeTestImage({ key: k.other, pure: true }), trusted))).toBe('mcuboot.unknown-key');
    expect(code(() => verifyMcubootImage(padded().subarray(0, SLOT - 8), trusted))).toBe('mcuboot.trailing-data');
  });

  it('an image whose padding is 0x00 when --erased-val 0xff is required is refused', () => {
    const zero = makeTestImage({ key: k.p256, pad: { slotSize: SLOT, erasedVal: 0x00 } });
    expect(code(() => verifyMcubootImage(zero, trusted, { erasedValue: 0xff }))).toBe('mcuboot.trailing-data');
    expect(code(() => verifyMcubootImage(zero, trusted, { erasedValue: 0x00 }))).toBe('ok');
  });

  it('pure images above the buffering bound are refused with the reason, not verified by halves', async () => {
    const image = makeTestImage({ key: k.ed25519, pure: true });
    const { McubootStreamVerifier } = await import('./mcuboot-image.verifier');
    const v = new McubootStreamVerifier({ keys: trusted, maxPureImageBytes: 1024 });
    v.update(image);
    expect(() => v.finish(trusted)).toThrow(expect.objectContaining({ code: 'mcuboot.unsupported-signature' }));
  });

  it('random changes anywhere in a padded slot image never verify', () => {
    const image = padded();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SLOT - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        expect(code(() => verifyMcubootImage(flip(image, at, xor), trusted))).not.toBe('ok');
      }),
      { numRuns: 300 },
    );
  });
});

describe('Intel HEX input (objcopy-written)', () => {
  it('a padded image as one HEX file, and as imgtool writes it (sparse: image + trailer), verifies as its binary', () => {
    const image = makeTestImage({ key: k.ed25519, sha: 512, pad: { slotSize: SLOT, confirm: true } });
    const binary = verifyMcubootImage(image, trusted);
    const full = readIntelHex(toIntelHex(image, 0x0800c000));
    expect(full.baseAddress).toBe(0x0800c000);
    expect(verifyMcubootImage(full.bytes, trusted)).toEqual(binary);
    const sparse = readIntelHex(toIntelHex(image, 0x0800c000, { imageBytes: imageEnd(image), tailBytes: 32 }));
    expect(sparse.bytes.equals(image)).toBe(true);
    expect(verifyMcubootImage(sparse.bytes, trusted)).toEqual(binary);
  });

  it('refuses broken HEX with a DomainError (checksum, garbage), fuzzed', () => {
    const hex = toIntelHex(makeTestImage({ key: k.p256 }), 0);
    const lines = hex.split('\n');
    lines[3] = lines[3].slice(0, -3) + (lines[3].slice(-3, -1) === '00' ? '01' : '00') + lines[3].slice(-1);
    expect(code(() => readIntelHex(lines.join('\n')))).toBe('mcuboot.bad-intel-hex');
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const c = code(() => readIntelHex(`:${text}`));
        expect(['ok', 'mcuboot.bad-intel-hex']).toContain(c);
      }),
      { numRuns: 300 },
    );
  });
});
