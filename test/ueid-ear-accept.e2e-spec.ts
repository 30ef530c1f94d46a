import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import { SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { buildEvidence } from '@fleetguard/device-kit';
import { EAR_DRAFT_PROFILE, EAR_PROFILE } from '@fleetguard/attestation';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';

jest.setTimeout(180_000);

const DRAFT = `application/eat+jwt; eat_profile="${EAR_DRAFT_PROFILE}"`;
const VERAISON = `application/eat+jwt; eat_profile="${EAR_PROFILE}"`;

/** A request on the device listener with the device's client certificate. */
function deviceRequest(s: TestService, d: SimulatedDevice, caPem: string, path: string, body: unknown, accept?: string): Promise<{ status: number; type: string | undefined; text: string }> {
  const url = new URL(path, s.urls.device);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca: caPem,
        cert: d.certificatePem.trimEnd() + '\n' + d.chainPem,
        key: d.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        headers: { 'content-type': 'application/json', ...(accept !== undefined ? { accept } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('RFC 9711 UEIDs at enrollment and in evidence; the EAR form chosen by Accept', () => {
  let s: TestService;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let caPem: string;
  const devices: SimulatedDevice[] = [];
  const device = async (extra: Partial<ConstructorParameters<typeof SimulatedDevice>[0]> = {}) => {
    const [token] = await fixture.tokens(1);
    const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, ...extra });
    devices.push(d);
    await d.enroll();
    return d;
  };
  const evidenceFor = async (d: SimulatedDevice, ueid?: Buffer) => {
    const challenge = await deviceRequest(s, d, caPem, '/attestation/challenge', {});
    const { nonce } = JSON.parse(challenge.text);
    const evidence = await buildEvidence({ deviceKey: d.privateKey, deviceId: d.deviceId, nonce, fw: fixture.profile.fw, events: fixture.profile.events, ...(ueid ? { extraClaims: { ueid: ueid.toString('base64url') } } : {}) });
    return { nonce, evidence };
  };

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
    caPem = (await s.api.get('/pki/ca')).body as string;
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await s?.stop();
  });

  it('enrollment refuses a UEID against RFC 9711 creation rules, with the reason, and spends no token', async () => {
    const [token] = await fixture.tokens(1);
    for (const [ueid, reason] of [
      ['01' + '00'.repeat(15), /RAND UEID \(type 0x01\) carries 16, 24 or 32 random bytes/],
      ['03' + '33'.repeat(14), /one digit value \(0\.\.9\) per byte/],
      ['07' + 'ab'.repeat(16), /type 0x07 is not one RFC 9711 defines/],
      ['AgAEizrK3Q', /hex/],
    ] as const) {
      const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, ueid });
      devices.push(d);
      await expect(d.enroll()).rejects.toThrow(reason);
    }
    // the token is still good
    const ok = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false });
    devices.push(ok);
    await ok.enroll();
  });

  it('a device enrolled with a RAND UEID names itself by it (base64url) and affirms; the EAR carries the UEID; a second device cannot take it', async () => {
    const ueid = Buffer.concat([Buffer.from([0x01]), randomBytes(32)]);
    const d = await device({ ueid: ueid.toString('hex') });
    const ear = await d.attestOverHttp();
    expect(summarizeEar(ear)).toMatchObject({ status: 'affirming', reasons: [] });
    const claims = decodeJwt(ear) as any;
    expect(claims.submods.device.ear_verifier_claims.ueid).toBe(ueid.toString('base64url'));
    const [token] = await fixture.tokens(1);
    const twin = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, ueid: ueid.toString('hex') });
    devices.push(twin);
    await expect(twin.enroll()).rejects.toThrow(/UEID is already enrolled/);
    // another device's UEID, or none enrolled: contraindicated with the reason
    const other = await device();
    const { evidence } = await evidenceFor(other, ueid);
    const r = await deviceRequest(s, other, caPem, '/attestation/evidence', { evidence });
    expect(JSON.parse(r.text)).toMatchObject({ status: 'contraindicated', reasons: [expect.stringMatching(/is an RFC 9711 UEID, but no UEID was enrolled/)] });
  });

  it('two enrollments with one UEID at the same moment (one grouped write): one device gets it, the other a 409, and its token stays good', async () => {
    const ueid = Buffer.concat([Buffer.from([0x01]), randomBytes(16)]).toString('hex');
    const tokens = await fixture.tokens(2);
    const pair = tokens.map((token) => new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, ueid }));
    devices.push(...pair);
    const outcomes = await Promise.allSettled(pair.map((d) => d.enroll()));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.findIndex((o) => o.status === 'rejected');
    expect(String((outcomes[lost] as PromiseRejectedResult).reason)).toMatch(/UEID is already enrolled/);
    const retry = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token: tokens[lost], profile: fixture.profile, reconnectPeriodMs: 0, hardening: false });
    devices.push(retry);
    await retry.enroll();
  });

  it('Accept picks the EAR form of POST /attestation/evidence: JSON by default, the EAR itself with its exact media type; 406 before the nonce is spent', async () => {
    const jwk = (await s.api.get('/attestation/verifier-key')).body;
    const key = await importJWK(jwk, 'ES256');
    const d = await device();

    const first = await evidenceFor(d);
    const refused = await deviceRequest(s, d, caPem, '/attestation/evidence', { evidence: first.evidence }, 'text/html');
    expect(refused.status).toBe(406);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'ear.not-acceptable', message: expect.stringContaining(VERAISON) });
    const unknownProfile = await deviceRequest(s, d, caPem, '/attestation/evidence', { evidence: first.evidence }, 'application/eat+jwt; eat_profile="tag:example.com,2025:x"');
    expect(unknownProfile.status).toBe(406);
    // the nonce was not spent by the refusals: the same evidence is appraised now
    const veraison = await deviceRequest(s, d, caPem, '/attestation/evidence', { evidence: first.evidence }, VERAISON);
    expect(veraison.status).toBe(200);
    expect(veraison.type).toBe(VERAISON);
    const v = (await jwtVerify(veraison.text, key)).payload as any;
    expect(v.eat_profile).toBe(EAR_PROFILE);
    expect(v.submods.device['ear.status']).toBe('affirming');
    expect(v.eat_nonce).toBe(first.nonce);

    const second = await evidenceFor(d);
    const draft = await deviceRequest(s, d, caPem, '/attestation/evidence', { evidence: second.evidence }, `application/json;q=0.1, ${DRAFT}`);
    expect(draft.type).toBe(DRAFT);
    expect(((await jwtVerify(draft.text, key)).payload as any).submods.device).toMatchObject({ ear_status: 'affirming', eat_nonce: second.nonce });

    const third = await evidenceFor(d);
    const json = await deviceRequest(s, d, caPem, '/attestation/evidence', { evidence: third.evidence });
    expect(json.type).toMatch(/^application\/json/);
    expect(summarizeEar(JSON.parse(json.text).ear).status).toBe('affirming');
    expect((decodeJwt(JSON.parse(json.text).ear) as any).eat_profile).toBe(EAR_DRAFT_PROFILE);
  });

  it('GET /api/v1/devices/:id/attestations/:resultId/ear serves a stored result in either form, 406 for JSON, 404 for another result', async () => {
    const d = await device();
    await d.attestOverHttp();
    const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
    const id = history.body.items[0].id as string;
    const stored = history.body.items[0].ear as string;
    const get = (accept: string | undefined, resultId = id) =>
      s.api.request('GET', `/api/v1/devices/${d.deviceId}/attestations/${resultId}/ear`, { key: operator.key, headers: accept ? { accept } : {} });

    const asStored = await get(undefined);
    expect(asStored.status).toBe(200);
    expect(asStored.body).toBe(stored);
    expect(asStored.headers.get('content-type')).toBe(DRAFT);

    const asVeraison = await get(VERAISON);
    expect(asVeraison.headers.get('content-type')).toBe(VERAISON);
    const a = decodeJwt(stored) as any;
    const b = decodeJwt(asVeraison.body as string) as any;
    expect(b).toMatchObject({ eat_profile: EAR_PROFILE, iat: a.iat, sub: a.sub, eat_nonce: a.eat_nonce });
    expect(b.submods.device['ear.trustworthiness-vector']).toEqual(a.submods.device.ear_trustworthiness_vector);

    expect((await get('application/json')).status).toBe(406);
    expect((await get(undefined, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await get(undefined, 'not-a-uuid')).status).toBe(400);
    const stranger = await createTenant(s.api, 'operator');
    expect((await s.api.request('GET', `/api/v1/devices/${d.deviceId}/attestations/${id}/ear`, { key: stranger.key })).status).toBe(404);
  });
});
