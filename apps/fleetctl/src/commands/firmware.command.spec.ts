/** @jest-environment ./libs/firmware/src/core/testing/noble.jest-environment.cjs */
// ECDSA P-256 checks load @noble/curves (ESM only); this environment hands it to jest (see there).
jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist);

import { createHash, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, runFleetctl } from '../testing/run-fleetctl';
import { imageEnd, makeTestDir, makeTestImage, makeTestKey, TestKey, toIntelHex } from '@fleetguard/firmware/testing';

const SAMPLES_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'firmware-samples');
const SAMPLES_INDEX = path.join(SAMPLES_DIR, 'samples.json');

describe('fleetctl firmware (offline)', () => {
  const dir = makeTempDir();
  const image = path.join(dir, 'app.bin');
  const keys: Record<string, { priv: string; pub: string }> = {};

  beforeAll(() => {
    fs.writeFileSync(image, Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 31 + 7) & 0xff)));
    const pairs = {
      p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      ed25519: generateKeyPairSync('ed25519'),
      rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
      other: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    };
    for (const [name, pair] of Object.entries(pairs)) {
      keys[name] = { priv: path.join(dir, `${name}.pem`), pub: path.join(dir, `${name}.pub.pem`) };
      fs.writeFileSync(keys[name].priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      fs.writeFileSync(keys[name].pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sha256 = (file: string) => `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;

  describe('sign --format manifest, then verify', () => {
    it.each(['p256', 'ed25519'])('round-trips with a %s key', async (name) => {
      const manifest = path.join(dir, `app.${name}.jws`);
      const signed = await runFleetctl(['firmware', 'sign', '--key', keys[name].priv, '--product', 'prod-1', '--version', '1.2.3', '--counter', '5', image, '--out', manifest]);
      expect(signed).toMatchObject({ code: 0, stderr: '' });
      expect(signed.stdout).toContain(`wrote ${manifest}`);

      const verified = await runFleetctl(['firmware', 'verify', '--pub', keys[name].pub, image, '--manifest', manifest, '--json']);
      expect(verified.code).toBe(0);
      expect(verified.json()).toMatchObject({
        ok: true,
        format: 'detached',
        productId: 'prod-1',
        version: '1.2.3',
        securityCounter: 5,
        digest: sha256(image),
        size: 70_001,
      });
    });

    it('prints the JWS on stdout without --out, with the payload the spec fixes', async () => {
      const run = await runFleetctl(['firmware', 'sign', '--key', keys.p256.priv, '--product', 'prod-1', '--version', '2.0.0', '--counter', '7', image]);
      expect(run.code).toBe(0);
      const jws = run.stdout.trim();
      expect(jws).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const [header, payload] = jws.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
      expect(header).toMatchObject({ alg: 'ES256', kid: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(payload).toEqual({ productId: 'prod-1', version: '2.0.0', securityCounter: 7, digest: sha256(image), size: 70_001 });
    });

    it('fails (exit 1, with the reason) for a changed image, another key, another product or a rollback', async () => {
      const manifest = path.join(dir, 'app.check.jws');
      await runFleetctl(['firmware', 'sign', '--key', keys.p256.priv, '--product', 'prod-1', '--version', '1.0.0', '--counter', '3', image, '--out', manifest]);
      const changed = path.join(dir, 'changed.bin');
      const bytes = fs.readFileSync(image);
      bytes[1000] ^= 1;
      fs.writeFileSync(changed, bytes);

      const cases: [string[], string][] = [
        [['--pub', keys.p256.pub, changed, '--manifest', manifest], 'manifest.digest-mismatch'],
        [['--pub', keys.other.pub, image, '--manifest', manifest], 'manifest.unknown-key'],
        [['--pub', keys.p256.pub, image, '--manifest', manifest, '--product', 'prod-2'], 'manifest.product-mismatch'],
        [['--pub', keys.p256.pub, image, '--manifest', manifest, '--min-counter', '4'], 'firmware.rollback'],
      ];
      for (const [args, code] of cases) {
        const text = await runFleetctl(['firmware', 'verify', ...args]);
        expect({ args, code: text.code }).toEqual({ args, code: 1 });
        expect(text.stdout).toContain(`FAILED`);
        expect(text.stdout).toContain(code);
        const json = await runFleetctl(['firmware', 'verify', ...args, '--json']);
        expect(json.code).toBe(1);
        expect(json.json()).toMatchObject({ ok: false, code, reason: expect.any(String) });
      }
    });
  });

  describe('sign --format mcuboot, then verify and inspect', () => {
    it.each([
      ['p256', 'ECDSA_SIG'],
      ['ed25519', 'ED25519'],
      ['rsa2048', 'RSA2048_PSS'],
    ])('round-trips with a %s key (%s TLV)', async (name, signatureTlv) => {
      const out = path.join(dir, `app.${name}.mcuboot.bin`);
      const signed = await runFleetctl([
        'firmware', 'sign', '--format', 'mcuboot', '--key', keys[name].priv, '--version', '1.4.2+9', '--counter', '12',
        '--header-size', '0x200', image, '--out', out, '--json',
      ]);
      expect(signed.code).toBe(0);
      expect(signed.json()).toMatchObject({ out, format: 'mcuboot', version: '1.4.2+9', securityCounter: 12 });

      const verified = await runFleetctl(['firmware', 'verify', '--pub', keys.other.pub, '--pub', keys[name].pub, out, '--json']);
      expect(verified.code).toBe(0);
      expect(verified.json()).toMatchObject({ ok: true, format: 'mcuboot', version: '1.4.2+9', securityCounter: 12, size: fs.statSync(out).size });

      const inspected = await runFleetctl(['firmware', 'inspect', out, '--json']);
      expect(inspected.code).toBe(0);
      const summary = inspected.json();
      expect(summary).toMatchObject({
        format: 'mcuboot',
        header: { headerSize: 0x200, imageSize: 70_001, version: '1.4.2+9' },
        securityCounter: 12,
        hashCheck: 'matches',
        signatures: 1,
        fileDigest: sha256(out),
      });
      expect(summary.tlvs.map((t: { name: string }) => t.name)).toEqual(['SEC_CNT', 'SHA256', 'KEYHASH', signatureTlv]);
    });

    it('refuses a tampered body (exit 1, hash mismatch) and an untrusted signer', async () => {
      const out = path.join(dir, 'tamper.mcuboot.bin');
      expect((await runFleetctl(['firmware', 'sign', '--format', 'mcuboot', '--key', keys.ed25519.priv, '--version', '1.0', image, '--out', out])).code).toBe(0);
      const bytes = fs.readFileSync(out);
      bytes[100] ^= 0x40;
      const tampered = path.join(dir, 'tampered.mcuboot.bin');
      fs.writeFileSync(tampered, bytes);

      const bad = await runFleetctl(['firmware', 'verify', '--pub', keys.ed25519.pub, tampered]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/FAILED .*mcuboot\.hash-mismatch: the image hashes to/);
      const inspect = await runFleetctl(['firmware', 'inspect', tampered, '--json']);
      expect(inspect.json()).toMatchObject({ hashCheck: 'differs' });

      const untrusted = await runFleetctl(['firmware', 'verify', '--pub', keys.p256.pub, out]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stdout).toContain('mcuboot.unknown-key');
    });

    it('says how to verify a non-MCUboot image', async () => {
      const run = await runFleetctl(['firmware', 'verify', '--pub', keys.p256.pub, image]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/mcuboot\.bad-magic: not an MCUboot image .*pass --manifest/);
    });
  });

  describe('inspect', () => {
    it('gives a raw image its size and digest (what a manifest states)', async () => {
      const run = await runFleetctl(['firmware', 'inspect', image, '--json']);
      expect(run.code).toBe(0);
      expect(run.json()).toEqual({ format: 'raw', size: 70_001, digest: sha256(image) });
      const text = await runFleetctl(['firmware', 'inspect', image]);
      expect(text.stdout).toContain(sha256(image));
    });

    it('decodes a manifest without trusting it', async () => {
      const manifest = path.join(dir, 'inspect.jws');
      await runFleetctl(['firmware', 'sign', '--key', keys.ed25519.priv, '--product', 'prod-9', '--version', '9.9.9', '--counter', '1', image, '--out', manifest]);
      const run = await runFleetctl(['firmware', 'inspect', manifest, '--json']);
      expect(run.json()).toMatchObject({ format: 'manifest', header: { alg: 'EdDSA' }, payload: { productId: 'prod-9', version: '9.9.9' } });
    });
  });

  describe('input errors are usage errors (exit 2)', () => {
    it.each([
      ['a missing image', () => ['firmware', 'verify', '--pub', keys.p256.pub, path.join(dir, 'missing.bin')], /cannot read image .*no such file/],
      ['a private key given as --pub', () => ['firmware', 'verify', '--pub', keys.p256.priv, image], /this is a private key/],
      ['no --pub', () => ['firmware', 'verify', image], /--pub/],
      ['a public key given as --key', () => ['firmware', 'sign', '--key', keys.p256.pub, '--product', 'p', '--version', '1', '--counter', '1', image], /not a PEM private key/],
      ['an RSA key for a manifest', () => ['firmware', 'sign', '--key', keys.rsa2048.priv, '--product', 'p', '--version', '1', '--counter', '1', image], /ES256.*EdDSA/],
      ['a manifest without --counter', () => ['firmware', 'sign', '--key', keys.p256.priv, '--product', 'p', '--version', '1', image], /--counter <n> is required/],
      ['mcuboot without --out', () => ['firmware', 'sign', '--format', 'mcuboot', '--key', keys.p256.priv, '--version', '1.0', image], /--out <file> is required/],
      ['a bad MCUboot version', () => ['firmware', 'sign', '--format', 'mcuboot', '--key', keys.p256.priv, '--version', 'one', image, '--out', path.join(dir, 'x.bin')], /version "one"/],
      ['a bad --header-size', () => ['firmware', 'sign', '--format', 'mcuboot', '--key', keys.p256.priv, '--version', '1.0', '--header-size', 'big', image, '--out', path.join(dir, 'x.bin')], /--header-size/],
    ])('%s', async (_name, args, message) => {
      const run = await runFleetctl(args());
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(fs.existsSync(path.join(dir, 'x.bin'))).toBe(false);
    });
  });
});

interface Sample {
  file: string;
  manifest?: string;
  format: string;
  expect: string;
  version?: string;
  securityCounter?: number | null;
  signerKeyId?: string;
  rollback?: string;
}
interface SamplesIndex {
  productId: string;
  productMinimumSecurityCounter: number;
  trustedKeys: string[];
  keys: Record<string, { public: string }>;
  samples: Sample[];
}

const samplesIndex: SamplesIndex | null = fs.existsSync(SAMPLES_INDEX) ? JSON.parse(fs.readFileSync(SAMPLES_INDEX, 'utf8')) : null;

(samplesIndex ? describe : describe.skip)('fleetctl firmware verify on firmware-samples/', () => {
  const index = samplesIndex!;
  const pubs = () => index.trustedKeys.flatMap((k) => ['--pub', `keys/${path.basename(index.keys[k].public)}`]);
  const argsFor = (s: Sample) => ['firmware', 'verify', ...pubs(), '--product', index.productId, s.file, ...(s.manifest ? ['--manifest', s.manifest] : [])];
  const label = (s: Sample) => `${s.file}${s.manifest ? ` + ${s.manifest}` : ''}`;

  // The library verdict of the samples, then the upload's release policy on top: an image without
  // a security counter verifies but the service refuses it, so `firmware verify` refuses it too.
  const policyOutcome = (s: Sample) => (s.expect === 'ok' && s.securityCounter === null ? 'firmware.no-security-counter' : s.expect);
  it.each((samplesIndex?.samples ?? []).map((s) => [label(s), policyOutcome(s), s] as const))('%s -> %s', async (_label, expected, sample) => {
    const json = await runFleetctl([...argsFor(sample), '--json'], { cwd: SAMPLES_DIR });
    if (expected === 'ok') {
      expect(json.code).toBe(0);
      expect(json.json()).toMatchObject({
        ok: true,
        format: sample.format,
        version: sample.version,
        securityCounter: sample.securityCounter,
        signerKeyId: sample.signerKeyId,
      });
    } else {
      expect(json.code).toBe(1);
      expect(json.json()).toMatchObject({ ok: false, code: expected, reason: expect.any(String) });
      const text = await runFleetctl(argsFor(sample), { cwd: SAMPLES_DIR });
      expect(text.code).toBe(1);
      expect(text.stdout).toContain(`FAILED ${sample.file}: ${expected}: ${json.json().reason}`);
    }
  });

  it.each(
    (samplesIndex?.samples ?? []).filter((s) => s.expect === 'ok').map((s) => [label(s), s.rollback ?? 'ok', s] as const),
  )('%s against the product minimum -> %s', async (_label, rollback, sample) => {
    const run = await runFleetctl([...argsFor(sample), '--min-counter', String(index.productMinimumSecurityCounter), '--json'], { cwd: SAMPLES_DIR });
    // The upload's codes: firmware.rollback, firmware.no-security-counter.
    const code = { 'below-product-minimum': 'firmware.rollback', 'missing-counter': 'firmware.no-security-counter' }[rollback as string];
    if (rollback === 'ok') {
      expect(run.code).toBe(0);
    } else {
      expect(run.code).toBe(1);
      expect(run.json()).toMatchObject({ ok: false, code });
    }
  });
});

describe('fleetctl firmware verify on imgtool-format images (the upload\'s rules)', () => {
  let dir: string;
  let keys: Record<'p384' | 'ed25519', TestKey>;
  beforeAll(() => {
    dir = makeTestDir();
    keys = { p384: makeTestKey(dir, 'p384'), ed25519: makeTestKey(dir, 'ed25519') };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: Buffer | string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    return file;
  };
  const verify = (file: string, ...extra: string[]) =>
    runFleetctl(['firmware', 'verify', '--pub', keys.p384.publicPath, '--pub', keys.ed25519.publicPath, file, ...extra]);

  it('accepts a confirmed P-384 slot image, an Ed25519 SHA-512 image and a pure one, and Intel HEX, saying what it read', async () => {
    const padded = write('p384.signed.confirmed.bin', makeTestImage({ key: keys.p384, pad: { slotSize: 0x4000, confirm: true } }));
    const text = await verify(padded);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/OK .*MCUboot image verified/);
    expect(text.stdout).toMatch(/ecdsa-p384-sha384/);
    expect(text.stdout).toMatch(/confirmed \(image_ok set\)/);
    const json = await verify(padded, '--json');
    expect(json.json()).toMatchObject({ ok: true, signature: 'ecdsa-p384-sha384', flags: [], size: 0x4000, slotTrailer: { confirmed: true, maxAlign: 8 } });
    for (const [name, options, scheme] of [
      ['ed512.bin', { key: keys.ed25519, sha: 512 as const }, 'ed25519-sha512'],
      ['pure.bin', { key: keys.ed25519, pure: true }, 'ed25519-pure'],
    ] as const) {
      const run = await verify(write(name, makeTestImage(options)), '--json');
      expect({ code: run.code, signature: run.json().signature }).toEqual({ code: 0, signature: scheme });
    }
    const image = makeTestImage({ key: keys.ed25519, pad: { slotSize: 0x4000 } });
    const hex = await verify(write('app.hex', toIntelHex(image, 0x8000, { imageBytes: imageEnd(image), tailBytes: 16 })), '--json');
    expect(hex.code).toBe(0);
    expect(hex.json()).toMatchObject({ ok: true, size: 0x4000, slotTrailer: { confirmed: false } });
  });

  it('refuses what the upload refuses: tampered padding, non-bootable, no counter, below --min-counter', async () => {
    const padded = makeTestImage({ key: keys.p384, pad: { slotSize: 0x4000, confirm: true } });
    padded[imageEnd(padded) + 7] = 0x12;
    for (const [file, code, extra] of [
      [write('bad-pad.bin', padded), 'mcuboot.trailing-data', []],
      [write('nonboot.bin', makeTestImage({ key: keys.p384, flags: 0x10 })), 'firmware.non-bootable', []],
      [write('nocounter.bin', makeTestImage({ key: keys.ed25519, securityCounter: null })), 'firmware.no-security-counter', []],
      [write('old.bin', makeTestImage({ key: keys.ed25519, securityCounter: 3 })), 'firmware.rollback', ['--min-counter', '4']],
    ] as const) {
      const run = await verify(file, ...extra, '--json');
      expect({ code: run.code, outcome: run.json().code }).toEqual({ code: 1, outcome: code });
    }
  });
});
