import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestService, createProduct, createTenant, startTestService } from './support/service';
import { imageEnd, makeTestDir, makeTestImage, makeTestKey, TestImageOptions, TestKey, toIntelHex } from '@fleetguard/firmware/testing';

const SAMPLES = path.resolve(__dirname, '../firmware-samples');
const manifest = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'samples.json'), 'utf8'));
const pub = (name: string) => fs.readFileSync(path.join(SAMPLES, manifest.keys[name].public), 'utf8');

interface Sample { file: string; format: string; expect: string; manifest?: string; version?: string; securityCounter?: number | null; digest?: string }

/** What the API answers for each sample: the library's verdict, plus the release rules (counter required, rollback). */
function expectedApiOutcome(s: Sample): { status: number; code?: string } {
  // Without the MCUboot magic the service cannot tell a broken MCUboot image from an unsigned blob.
  if (s.expect === 'mcuboot.bad-magic') return { status: 400, code: 'firmware.unsigned' };
  if (s.expect !== 'ok') return { status: 400, code: s.expect };
  if (s.securityCounter === null || s.securityCounter === undefined) return { status: 400, code: 'firmware.no-security-counter' };
  if (s.securityCounter < manifest.productMinimumSecurityCounter) return { status: 400, code: 'firmware.rollback' };
  return { status: 201 };
}

describe('firmware releases through the operator API', () => {
  let s: TestService;
  let key: string;
  let otherKey: string;
  beforeAll(async () => {
    s = await startTestService();
    key = (await createTenant(s.api, 'manufacturer')).key;
    otherKey = (await createTenant(s.api, 'manufacturer')).key;
  });
  afterAll(async () => s?.stop());

  async function productWithKeys(k = key) {
    const product = await createProduct(s.api, k, { name: 'prod-sample', minSecurityCounter: manifest.productMinimumSecurityCounter });
    for (const name of manifest.trustedKeys) {
      const r = await s.api.post(`/api/v1/products/${product.id}/signing-keys`, { publicKey: pub(name) }, k);
      expect(r.status).toBe(201);
      expect(r.body.keyId).toBe(manifest.keys[name].keyId);
    }
    return product;
  }

  const upload = (productId: string, file: string, manifestFile?: string, k = key) =>
    s.api.request('POST', `/api/v1/products/${productId}/firmware`, {
      key: k,
      raw: fs.readFileSync(path.join(SAMPLES, file)),
      headers: { 'content-type': 'application/octet-stream', ...(manifestFile ? { 'x-firmware-manifest': fs.readFileSync(path.join(SAMPLES, manifestFile), 'utf8') } : {}) },
    });

  it.each((manifest.samples as Sample[]).map((x) => [`${x.file}${x.manifest ? ` + ${x.manifest}` : ''}`, x]))('%s', async (_name, sample) => {
    const k = (await createTenant(s.api, 'manufacturer')).key;
    const product = await productWithKeys(k);
    const res = await upload(product.id, sample.file, sample.manifest, k);
    const want = expectedApiOutcome(sample);
    expect({ status: res.status, code: res.body.code }).toEqual({ status: want.status, code: want.code });
    const list = await s.api.get(`/api/v1/products/${product.id}/firmware`, k);
    if (want.status === 201) {
      expect(res.body).toMatchObject({ version: sample.version, securityCounter: sample.securityCounter, status: 'trusted', format: sample.format });
      if (sample.digest) expect(res.body.digest).toBe(sample.digest);
      expect(list.body).toHaveLength(1);
    } else {
      expect(res.body.message).toBeTruthy();
      expect(list.body).toEqual([]);
    }
  });

  it('refuses an image signed by a revoked key, and revoking a key untrusts its releases', async () => {
    const product = await productWithKeys();
    expect((await upload(product.id, 'good.bin', 'good.manifest.jws')).status).toBe(201);
    const keyId = manifest.keys['ec-p256'].keyId;
    const revoked = await s.api.request('DELETE', `/api/v1/products/${product.id}/signing-keys/${keyId}`, { key });
    expect(revoked.status).toBe(200);
    expect(revoked.body.releasesRevoked).toEqual(['2.0.1']);
    expect((await s.api.get(`/api/v1/products/${product.id}/firmware`, key)).body[0]).toMatchObject({ status: 'revoked', revokedReason: 'signing key revoked' });
    const again = await upload(product.id, 'good-ecdsa-p256.mcuboot.bin');
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('firmware.key-revoked');
  });

  it('refuses a duplicate version, an empty body, JSON, and another tenant\'s product', async () => {
    key = (await createTenant(s.api, 'manufacturer')).key;
    const product = await productWithKeys();
    expect((await upload(product.id, 'good-ecdsa-p256.mcuboot.bin')).status).toBe(201);
    expect((await upload(product.id, 'good-ed25519.mcuboot.bin')).status).toBe(409);
    const empty = await s.api.request('POST', `/api/v1/products/${product.id}/firmware`, { key, raw: '', headers: { 'content-type': 'application/octet-stream' } });
    expect(empty.status).toBe(400);
    const json = await s.api.post(`/api/v1/products/${product.id}/firmware`, { image: 'x' }, key);
    expect(json.status).toBe(400);
    expect((await upload(product.id, 'good-rsa-pss.mcuboot.bin', undefined, otherKey)).status).toBe(404);
  });

  it('stores reference values for a release and validates them', async () => {
    key = (await createTenant(s.api, 'manufacturer')).key;
    const product = await productWithKeys();
    await upload(product.id, 'good-ecdsa-p256.mcuboot.bin');
    const ok = await s.api.request('PUT', `/api/v1/products/${product.id}/firmware/1.2.3+4/reference-values`, {
      key,
      body: { events: [{ pcr: 0, component: 'bootloader', digest: 'ab'.repeat(32) }, { pcr: 4, component: 'kernel', digest: `sha256:${'cd'.repeat(32)}` }] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.referenceValues.events[1]).toEqual({ pcr: 4, component: 'kernel', digest: 'cd'.repeat(32) });
    const bad = await s.api.request('PUT', `/api/v1/products/${product.id}/firmware/1.2.3+4/reference-values`, { key, body: { events: [{ pcr: 30, component: 'x', digest: 'zz' }] } });
    expect(bad.status).toBe(400);
    const missing = await s.api.request('PUT', `/api/v1/products/${product.id}/firmware/9.9.9/reference-values`, { key, body: { events: [{ pcr: 0, component: 'x', digest: 'ab'.repeat(32) }] } });
    expect(missing.status).toBe(404);
  });
});

describe('imgtool-format images through the operator API (slot padding, P-384, SHA-512, pure Ed25519, flags, Intel HEX)', () => {
  let s: TestService;
  let key: string;
  let dir: string;
  let keys: Record<'p256' | 'p384' | 'ed25519', TestKey>;
  beforeAll(async () => {
    s = await startTestService();
    key = (await createTenant(s.api, 'manufacturer')).key;
    dir = makeTestDir();
    keys = { p256: makeTestKey(dir, 'p256'), p384: makeTestKey(dir, 'p384'), ed25519: makeTestKey(dir, 'ed25519') };
  });
  afterAll(async () => {
    await s?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function product() {
    const p = await createProduct(s.api, key, { name: `imgtool-${Math.random().toString(36).slice(2, 8)}`, minSecurityCounter: 3 });
    for (const k of Object.values(keys)) {
      const r = await s.api.post(`/api/v1/products/${p.id}/signing-keys`, { publicKey: k.publicPem }, key);
      expect({ status: r.status, algorithm: r.body.algorithm }).toEqual({ status: 201, algorithm: { p256: 'ES256', p384: 'ES384', ed25519: 'EdDSA' }[k.type] });
    }
    return p;
  }
  const post = (productId: string, raw: Buffer | string) =>
    s.api.request('POST', `/api/v1/products/${productId}/firmware`, { key, raw, headers: { 'content-type': 'application/octet-stream' } });

  it('accepts the images imgtool makes, records them, and shows signature, flags and slot trailer', async () => {
    const p = await product();
    const cases: Array<[TestImageOptions, string, Record<string, unknown> | null]> = [
      [{ key: keys.p384, version: [1, 0, 0, 1], pad: { slotSize: 0x4000, confirm: true } }, 'ecdsa-p384-sha384', { confirmed: true, maxAlign: 8, erasedValue: 0xff }],
      [{ key: keys.ed25519, sha: 512, version: [1, 0, 0, 2], pad: { slotSize: 0x4000, align: 32, maxSectors: 32 } }, 'ed25519-sha512', { confirmed: false, maxAlign: 32 }],
      [{ key: keys.ed25519, pure: true, version: [1, 0, 0, 3] }, 'ed25519-pure', null],
      [{ key: keys.p256, version: [1, 0, 0, 4], flags: 0x20, pad: { slotSize: 0x4000, erasedVal: 0x00, overwriteOnly: true } }, 'ecdsa-p256-sha256', { erasedValue: 0 }],
    ];
    for (const [options, signature, trailer] of cases) {
      const image = makeTestImage(options);
      const res = await post(p.id, image);
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 201, code: undefined });
      expect(res.body).toMatchObject({ status: 'trusted', securityCounter: 7, size: image.length, image: { signature } });
      expect(res.body.image.slotTrailer === null ? null : res.body.image.slotTrailer).toEqual(trailer === null ? null : expect.objectContaining(trailer));
    }
    const listed = await s.api.get(`/api/v1/products/${p.id}/firmware`, key);
    expect(listed.body.map((r: { version: string }) => r.version)).toEqual(['1.0.0+1', '1.0.0+2', '1.0.0+3', '1.0.0+4']);
    const flagged = await post(p.id, makeTestImage({ key: keys.p256, version: [1, 0, 0, 5], flags: 0x20 }));
    expect(flagged.body.image.flags).toEqual(['ram-load']);
  });

  it('accepts an Intel HEX image (objcopy-written, sparse as imgtool pads a .hex) and verifies it as its binary', async () => {
    const p = await product();
    const image = makeTestImage({ key: keys.ed25519, pad: { slotSize: 0x4000, confirm: true } });
    const res = await post(p.id, toIntelHex(image, 0x10000, { imageBytes: imageEnd(image), tailBytes: 24 }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ size: image.length, image: { slotTrailer: { confirmed: true } } });
    const broken = await post(p.id, ':10000000FFFFFFFF\n:00000001FF\n');
    expect({ status: broken.status, code: broken.body.code }).toEqual({ status: 400, code: 'mcuboot.bad-intel-hex' });
  });

  it('refuses tampered, non-bootable and counterless images with the reason, recording nothing', async () => {
    const p = await product();
    const padded = makeTestImage({ key: keys.p384, pad: { slotSize: 0x4000, confirm: true } });
    const tamperedPad = Buffer.from(padded);
    tamperedPad[imageEnd(padded) + 40] = 0x00;
    const tamperedBody = makeTestImage({ key: keys.ed25519, pure: true });
    tamperedBody[0x400] ^= 0x01;
    const cases: Array<[Buffer, string]> = [
      [tamperedPad, 'mcuboot.trailing-data'],
      [tamperedBody, 'mcuboot.hash-mismatch'],
      [makeTestImage({ key: keys.p256, flags: 0x10 }), 'firmware.non-bootable'],
      [makeTestImage({ key: keys.p384, securityCounter: null }), 'firmware.no-security-counter'],
      [makeTestImage({ key: keys.p384, securityCounter: 2 }), 'firmware.rollback'],
    ];
    for (const [image, code] of cases) {
      const res = await post(p.id, image);
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code });
      expect(res.body.message).toBeTruthy();
    }
    expect((await s.api.get(`/api/v1/products/${p.id}/firmware`, key)).body).toEqual([]);
  });
});
