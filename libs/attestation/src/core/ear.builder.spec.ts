import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import { appraiseEvidence } from './appraisal.pipeline';
import { createVerifierKey, EAR_PROFILE, exportVerifierJwk, exportVerifierKeyPem, FLEETGUARD_APPRAISAL_POLICY_ID, loadVerifierKey, signEar, verifyEar } from './ear.builder';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { emptyTrustVector } from './trust-vector';

const verifierId = { build: 'fleetguard 0.1.0', developer: 'https://fleetguard.example' };

async function appraisedEar() {
  const s = createAppraisalScenario();
  const result = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, s.ports);
  const verifierKey = await createVerifierKey();
  const now = new Date('2025-06-01T12:00:00Z');
  const ear = await signEar(result, { verifierKey, verifierId, nonce: result.nonce, deviceId: s.deviceId, now });
  return { result, verifierKey, ear, jwk: await exportVerifierJwk(verifierKey) };
}

const b64url = (s: string) => Buffer.from(s, 'base64url');
const payloadOf = (jwt: string) => JSON.parse(b64url(jwt.split('.')[1]).toString('utf8'));

describe('signEar', () => {
  it('carries the EAR claims: profile, iat, nonce, verifier id, submods.device with status, vector, policy, reasons', async () => {
    const { result, ear, verifierKey } = await appraisedEar();
    expect(decodeProtectedHeader(ear)).toEqual({ alg: 'ES256', typ: 'JWT', kid: verifierKey.kid });
    expect(payloadOf(ear)).toEqual({
      eat_profile: 'tag:github.com,2023:veraison/ear',
      iat: 1748779200,
      sub: 'dev-0001',
      eat_nonce: result.nonce,
      'ear.verifier-id': verifierId,
      submods: {
        device: {
          'ear.status': 'affirming',
          'ear.trustworthiness-vector': result.trustVector,
          'ear.appraisal-policy-id': FLEETGUARD_APPRAISAL_POLICY_ID,
          reasons: [],
        },
      },
    });
  });

  it('verifies with jose and the published JWK', async () => {
    const { ear, jwk } = await appraisedEar();
    const claims = await verifyEar(ear, jwk);
    expect(claims.eat_profile).toBe(EAR_PROFILE);
    expect(claims.submods.device['ear.status']).toBe('affirming');
  });

  it('verifies with Node crypto (IEEE P1363 r||s) and the published JWK, independently of jose', async () => {
    const { ear, jwk } = await appraisedEar();
    const [h, p, sig] = ear.split('.');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, b64url(sig))).toBe(true);
    expect(verify('sha256', Buffer.from(`${h}.${p}x`), { key, dsaEncoding: 'ieee-p1363' }, b64url(sig))).toBe(false);
  });

  it('verifies with openssl dgst after converting r||s to DER (openssl asn1parse -genconf)', async () => {
    const { ear, jwk } = await appraisedEar();
    const [h, p, sig] = ear.split('.');
    const raw = b64url(sig);
    expect(raw).toHaveLength(64);
    const dir = mkdtempSync(join(tmpdir(), 'fg-ear-'));
    try {
      writeFileSync(join(dir, 'pub.pem'), createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
      writeFileSync(join(dir, 'input'), `${h}.${p}`);
      writeFileSync(join(dir, 'tampered'), `${h}.${p.slice(0, -2)}AA`);
      writeFileSync(
        join(dir, 'sig.cnf'),
        ['asn1=SEQUENCE:sig', '[sig]', `r=INTEGER:0x${raw.subarray(0, 32).toString('hex')}`, `s=INTEGER:0x${raw.subarray(32).toString('hex')}`, ''].join('\n'),
      );
      execFileSync('openssl', ['asn1parse', '-genconf', join(dir, 'sig.cnf'), '-out', join(dir, 'sig.der'), '-noout']);
      const ok = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'input')], { encoding: 'utf8' });
      expect(ok.stdout.trim()).toBe('Verified OK');
      expect(ok.status).toBe(0);
      const bad = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'tampered')], { encoding: 'utf8' });
      expect(bad.stdout.trim()).toBe('Verification failure');
      expect(bad.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('omits eat_nonce when the evidence was never authenticated, keeps failure reasons', async () => {
    const verifierKey = await createVerifierKey();
    const trustVector = { ...emptyTrustVector(), 'instance-identity': 99 };
    const ear = await signEar({ trustVector, reasons: ['evidence signature does not verify'] }, { verifierKey, verifierId, nonce: null, deviceId: 'd' });
    const claims = await verifyEar(ear, await exportVerifierJwk(verifierKey));
    expect(claims).not.toHaveProperty('eat_nonce');
    expect(claims.submods.device).toMatchObject({ 'ear.status': 'contraindicated', reasons: ['evidence signature does not verify'] });
  });

  it('refuses a status that is not the worst tier of the vector', async () => {
    const verifierKey = await createVerifierKey();
    await expect(
      signEar({ status: 'affirming', trustVector: { ...emptyTrustVector(), executables: 96 }, reasons: [] }, { verifierKey, verifierId, nonce: null, deviceId: 'd' }),
    ).rejects.toMatchObject({ code: 'ear-status-inconsistent' });
  });

  it('is refused by verifyEar under another verifier key or when altered', async () => {
    const { ear } = await appraisedEar();
    const other = await exportVerifierJwk(await createVerifierKey());
    await expect(verifyEar(ear, other)).rejects.toThrow();
    const { jwk } = await appraisedEar();
    await expect(verifyEar(ear, jwk)).rejects.toThrow();
    const [h, p, sig] = ear.split('.');
    const altered = Buffer.from(JSON.stringify({ ...payloadOf(ear), sub: 'dev-9999' })).toString('base64url');
    expect(p).not.toBe(altered);
    const { ear: own, jwk: ownJwk } = await appraisedEar();
    const [oh, , osig] = own.split('.');
    await expect(verifyEar(`${oh}.${altered}.${osig}`, ownJwk)).rejects.toThrow();
    expect(h && sig).toBeTruthy();
  });
});

describe('verifier keys', () => {
  it('publishes a public JWK with a thumbprint kid and no private part', async () => {
    const key = await createVerifierKey();
    const jwk = await exportVerifierJwk(key);
    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: key.kid, alg: 'ES256', use: 'sig' });
    expect(await calculateJwkThumbprint(jwk)).toBe(key.kid);
  });

  it('round-trips through encrypted PKCS#8 and keeps its kid', async () => {
    const key = await createVerifierKey();
    const pem = exportVerifierKeyPem(key, 'correct horse');
    expect(pem).toContain('ENCRYPTED PRIVATE KEY');
    expect((await loadVerifierKey(pem, 'correct horse')).kid).toBe(key.kid);
    await expect(loadVerifierKey(pem, 'wrong')).rejects.toMatchObject({ code: 'verifier-key-invalid' });
    expect((await loadVerifierKey(exportVerifierKeyPem(key))).kid).toBe(key.kid);
  });
});
