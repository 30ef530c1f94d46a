import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appraiseEvidence } from './appraisal.pipeline';
import { parseEvidenceClaims } from './eat-evidence.parser';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { signEar, createVerifierKey, verifyEar } from './ear.builder';

/**
 * RFC 9711 UEIDs in evidence. The EATs of the first test are made by Debian's python3-jwt (PyJWT
 * with python3-cryptography), not by our encoder: the `ueid` is the RFC's own example bytes.
 */
const PYTHON = '/usr/bin/python3';

function pyJwtEat(keyPem: string, claims: Record<string, unknown>): string {
  const script = 'import jwt, json, sys\nd = json.load(sys.stdin)\nsys.stdout.write(jwt.encode(d["claims"], d["key"], algorithm="ES256"))';
  return execFileSync(PYTHON, ['-c', script], { input: JSON.stringify({ key: keyPem, claims }) }).toString();
}

describe('RFC 9711 UEIDs in evidence', () => {
  it('an EAT signed by PyJWT whose ueid is the RFC example (AgAEizrK3Q, EUI-48) affirms when that UEID is enrolled, and the identity is kept', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const s = createAppraisalScenario({ deviceKey: key });
    s.device.ueid = Buffer.from('0200048b3acadd', 'hex');
    const nonce = s.nonces.issue(s.deviceId);
    const claims = {
      eat_nonce: nonce,
      ueid: 'AgAEizrK3Q',
      sueids: { 'LDevID': 'AZj1Ck_2wFhhyIYNE6Y46g' },
      iat: Math.floor(Date.now() / 1000),
      fw: s.fw,
      boot: { alg: 'sha256', events: s.events, pcrs: (await import('./event-log.replay')).replayEventLog(s.events) },
    };
    const eat = pyJwtEat(key.export({ type: 'pkcs8', format: 'pem' }).toString(), claims);
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: eat }, s.ports);
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
    expect(r.claims?.identity).toEqual({ form: 'rfc9711-ueid', ueid: 'AgAEizrK3Q', sueids: { LDevID: 'AZj1Ck_2wFhhyIYNE6Y46g' } });

    // and the EAR (draft form) carries what was matched, in the verifier's claims
    const vk = await createVerifierKey();
    const ear = await signEar(r, { verifierKey: vk, verifierId: { build: 'b', developer: 'd' }, nonce: r.nonce, deviceId: s.deviceId, attester: { ueid: 'AgAEizrK3Q' } });
    const c = (await verifyEar(ear, { kty: 'EC', ...(vk.publicKey.export({ format: 'jwk' }) as object) })) as any;
    expect(c.submods.device.ear_verifier_claims).toEqual({ reasons: [], ueid: 'AgAEizrK3Q' });
    expect(c.submods.device.eat_nonce).toBe(nonce);
  });

  it('the device id form still works (the first Fleetguard form, not an RFC 9711 UEID)', async () => {
    const s = createAppraisalScenario();
    s.device.ueid = Buffer.from('0200048b3acadd', 'hex');
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, s.ports);
    expect(r.status).toBe('affirming');
    expect(r.claims?.identity).toEqual({ form: 'device-id' });
  });

  it('refuses, with the reason, a UEID that is not the enrolled one, one with no UEID enrolled, and says when it is malformed too', async () => {
    const s = createAppraisalScenario();
    s.device.ueid = Buffer.from('0200048b3acadd', 'hex');
    const other = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ extraClaims: { ueid: 'AgAEizrK3g' } }) }, s.ports);
    expect(other.status).toBe('contraindicated');
    expect(other.reasons).toEqual([expect.stringMatching(/^evidence ueid 0200048b3acade is not the UEID enrolled for device 'dev-0001' \(0200048b3acadd\)$/)]);

    s.device.ueid = null;
    const none = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ extraClaims: { ueid: 'AgAEizrK3Q' } }) }, s.ports);
    expect(none.reasons).toEqual([expect.stringMatching(/is an RFC 9711 UEID, but no UEID was enrolled for device 'dev-0001'/)]);

    const short = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ extraClaims: { ueid: 'AZj1Ck_2wFhhyIYNE6Y4' } }) }, s.ports);
    expect(short.reasons).toEqual([expect.stringMatching(/not a well-formed UEID: a RAND UEID/)]);
  });

  it('sueids must be a map of labelled UEIDs (base64url of 7..33 bytes)', () => {
    const base = { eat_nonce: 'A'.repeat(43), ueid: 'dev-1', iat: 1, fw: { productId: 'p', version: '1', digest: 'a'.repeat(64), securityCounter: 0 }, boot: { alg: 'sha256' } };
    expect(parseEvidenceClaims({ ...base, sueids: { a: 'AgAEizrK3Q' } }).sueids).toEqual({ a: Buffer.from('0200048b3acadd', 'hex') });
    for (const sueids of [{}, ['AgAEizrK3Q'], { a: 'AgAEizrK3Q==' }, { a: 'AgAE' }, { a: 42 }]) {
      expect(() => parseEvidenceClaims({ ...base, sueids })).toThrow(/sueids/);
    }
  });
});
