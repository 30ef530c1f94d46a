import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, createPublicKey } from 'node:crypto';
import { PsaBehaviour, PsaDevice, summarizeEar } from '../apps/device-sim/src';
import { buildPsaTokenWithCbor2, generateIak, psaClaimsMap, signCoseSign1, toDiag } from '@fleetguard/device-kit';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(120_000);

const SAMPLES = path.resolve(__dirname, '../firmware-samples');
const samples = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'samples.json'), 'utf8'));
const SHARED = path.resolve(__dirname, '..', '..', 'shared', 'data', 'psa');

/**
 * A TF-M device attesting with PSA tokens through the real service: its reference values are the
 * MCUboot release the manufacturer uploaded, with no other provisioning.
 */
describe('PSA attestation tokens (RFC 9783) through the service', () => {
  let s: TestService;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let signerId: string;
  const devices: PsaDevice[] = [];

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    const pub = fs.readFileSync(path.join(SAMPLES, samples.keys['ec-p256'].public), 'utf8');
    signerId = createHash('sha256').update(createPublicKey(pub).export({ type: 'spki', format: 'der' })).digest('hex');
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });

  async function device(behaviour: PsaBehaviour = 'good'): Promise<PsaDevice> {
    const [token] = await fixture.tokens(1);
    const d = new PsaDevice({
      operatorUrl: s.urls.operator,
      deviceUrl: s.urls.device,
      mqttUrl: s.urls.mqtt,
      token,
      behaviour,
      firmware: { version: fixture.profile.fw.version, imageHash: fixture.profile.fw.digest, signerId },
    });
    devices.push(d);
    await d.enroll();
    return d;
  }

  it('a good device gets an affirming EAR over HTTP, from the MCUboot release alone, and its firmware is recorded', async () => {
    const d = await device();
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.reasons).toEqual([]);
    expect(ear.status).toBe('affirming');
    const detail = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
    expect(detail.body.attestation.status).toBe('affirming');
    expect(detail.body.firmware.version).toBe(fixture.profile.fw.version);
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    expect(history.body.items[0].claims).toMatchObject({ format: 'psa', lifecycle: { state: 'secured' } });
  });

  it('a token encoded by python3-cbor2 and signed by openssl (not our encoder) is affirmed by the service', async () => {
    const d = await device();
    const c = await d.requireApi().challenge();
    const claims = psaClaimsMap({
      nonce: Buffer.from(c.nonce, 'base64url'),
      instanceId: d.instanceId,
      implementationId: d.implementationId,
      components: [{ measurementType: 'SPE', measurementValue: Buffer.from(fixture.profile.fw.digest.replace(/^sha256:/, ''), 'hex'), version: fixture.profile.fw.version.replace(/\+0$/, ''), signerId: Buffer.from(signerId, 'hex') }],
    });
    const token = buildPsaTokenWithCbor2(toDiag(claims), d.iak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const ear = summarizeEar(await d.requireApi().psaEvidence(token.toString('base64url')));
    expect(ear.reasons).toEqual([]);
    expect(ear.status).toBe('affirming');
  });

  it('a good device is challenged on connect over mTLS MQTT and answers {psaToken}', async () => {
    const d = await device();
    await d.connect();
    expect(summarizeEar(await d.waitForResult(30_000, 0)).status).toBe('affirming');
  });

  it.each<[PsaBehaviour, RegExp]>([
    ['wrong-digest', /software component 0 'SPE': measured [0-9a-f]{64}, but the reference value is/],
    ['wrong-signer', /signer id [0-9a-f]{64} is not the reference signer/],
    ['debug-lifecycle', /security lifecycle is non-psa-rot-debug \(0x4000\), not secured/],
    ['foreign-key', /PSA token signature \(ES256\) does not verify/],
    ['wrong-nonce', /the token nonce was not issued to this device/],
  ])('%s: contraindicated, with the reason', async (behaviour, reason) => {
    const d = await device(behaviour);
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons.join('\n')).toMatch(reason);
  });

  it('a fresh token over a nonce already used is refused', async () => {
    const d = await device();
    const c = await d.requireApi().challenge();
    expect(summarizeEar(await d.sendOverHttp(c.nonce)).status).toBe('affirming');
    const again = summarizeEar(await d.sendOverHttp(c.nonce));
    expect(again.status).toBe('contraindicated');
    expect(again.reasons).toEqual(['the token nonce was already used (replayed token)']);
  });

  it('bad tokens and bad bodies are 400s with the reason', async () => {
    const d = await device();
    const api = d.requireApi();
    await expect(api.psaEvidence('not*base64')).rejects.toThrow(/400|base64url/);
    await expect(api.psaEvidence(Buffer.from('a0', 'hex').toString('base64url'))).rejects.toThrow(/COSE_Sign1|psa-token-malformed|400/);
  });

  describe('CoRIM import', () => {
    const post = (body: Buffer, type: string) => s.api.request('POST', `/api/v1/products/${fixture.product.id}/corim`, { key: fixture.manufacturer.key, raw: body, headers: { 'content-type': type } });

    it('records the valid PSA CoRIM and answers what it recorded', async () => {
      const r = await post(fs.readFileSync(path.join(SHARED, 'corim-psa-valid.cbor')), 'application/rim+cbor');
      expect(r.status).toBe(201);
      expect(r.body.recorded).toMatchObject({ id: 'psa-valid-corim', referenceValues: [{ measurementType: 'BL', version: '2.1.0' }], attestKeys: [{ instanceId: expect.stringMatching(/^01/) }] });
      expect((await post(fs.readFileSync(path.join(SHARED, 'corim-psa-valid.cbor')), 'application/rim+cbor')).status).toBe(400);
    });

    it.each([
      ['corim-psa-invalid-impl-id.cbor', /implementation id is 31 bytes, the PSA profile requires 32/],
      ['corim-psa-invalid-attest-key.cbor', /has 2 verification keys, the PSA profile requires exactly 1/],
      ['corim-no-profile.cbor', /names no profile/],
    ])('refuses %s with the reason', async (file, reason) => {
      const r = await post(fs.readFileSync(path.join(SHARED, file)), 'application/rim+cbor');
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body)).toMatch(reason);
    });

    it('a signed CoRIM must verify with a product signing key; other content types are 415', async () => {
      const signed = signCoseSign1(fs.readFileSync(path.join(SHARED, 'corim-psa-valid.cbor')), generateIak().privateKey);
      const r = await post(signed, 'application/rim+cose');
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body)).toMatch(/corim-signature-invalid|verifies with none/);
      expect((await post(Buffer.from('{}'), 'application/octet-stream')).status).toBe(415);
    });
  });

  // Last: it revokes the product's signing key (and so its release).
  it('the signing key revoked: a device reporting its release is contraindicated at once', async () => {
    const d = await device();
    expect(summarizeEar(await d.attestOverHttp()).status).toBe('affirming');
    const del = await s.api.request('DELETE', `/api/v1/products/${fixture.product.id}/signing-keys/${signerId}`, { key: fixture.manufacturer.key });
    expect(del.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const ear = summarizeEar(await d.attestOverHttp());
    expect(ear.status).toBe('contraindicated');
    expect(ear.reasons.join()).toMatch(/MCUboot release .* which is revoked/);
  });
});
