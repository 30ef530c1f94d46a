import { keyProtectionOf } from '@fleetguard/common';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import { appraiseEvidence } from './appraisal.pipeline';
import { createVerifierKey, EAR_DRAFT_PROFILE, EAR_PROFILE, earDeviceAppraisal, exportVerifierJwk, exportVerifierKeyPem, FLEETGUARD_APPRAISAL_POLICY_ID, loadVerifierKey, signEar, verifyEar } from './ear.builder';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { emptyTrustVector } from './trust-vector';

const verifierId = { build: 'fleetguard 0.1.0', developer: 'https://fleetguard.example' };

async function appraisedEar(form?: 'draft' | 'veraison') {
  const s = createAppraisalScenario();
  const result = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, s.ports);
  const verifierKey = await createVerifierKey();
  const now = new Date('2025-06-01T12:00:00Z');
  const ear = await signEar(result, { verifierKey, verifierId, nonce: result.nonce, deviceId: s.deviceId, now, ...(form ? { form } : {}) });
  return { result, verifierKey, ear, jwk: await exportVerifierJwk(verifierKey) };
}

const b64url = (s: string) => Buffer.from(s, 'base64url');
const payloadOf = (jwt: string) => JSON.parse(b64url(jwt.split('.')[1]).toString('utf8'));

/**
 * An independent reading of draft-ietf-rats-ear-04's JSON claims-set rules (section 3 and the
 * AR4SI tiers), written here and not from the builder: returns the broken rules.
 */
const AR4SI_CLAIMS = ['instance-identity', 'configuration', 'executables', 'file-system', 'hardware', 'runtime-opaque', 'storage-opaque', 'sourced-data'];
const TIERS = ['none', 'affirming', 'warning', 'contraindicated'];
const tierOfValue = (v: number) => (v >= 96 || v <= -96 ? 'contraindicated' : v >= 32 || v <= -32 ? 'warning' : v >= 2 ? 'affirming' : 'none');
function draftEarProblems(c: any): string[] {
  const problems: string[] = [];
  if (c.eat_profile !== 'tag:ietf.org,2026:rats/ear#04') problems.push('eat_profile is not the draft-04 tag');
  if (!Number.isInteger(c.iat)) problems.push('iat is not an integer');
  const vid = c.ear_verifier_id;
  if (!vid || typeof vid.build !== 'string' || !vid.build || typeof vid.developer !== 'string' || !vid.developer) problems.push('ear_verifier_id needs build and developer');
  if ('eat_nonce' in c) {
    const n = Buffer.from(String(c.eat_nonce), 'base64url');
    if (typeof c.eat_nonce !== 'string' || n.length < 8 || n.length > 64) problems.push('eat_nonce is not 8..64 bytes');
  }
  const submods = c.submods;
  if (!submods || typeof submods !== 'object' || Object.keys(submods).length === 0) problems.push('submods is empty');
  let worst = 0;
  for (const [name, a] of Object.entries<any>(submods ?? {})) {
    if (!TIERS.includes(a.ear_status)) problems.push(`${name}: ear_status ${a.ear_status} is no tier`);
    worst = Math.max(worst, TIERS.indexOf(a.ear_status));
    const tv = a.ear_trustworthiness_vector ?? {};
    let tvWorst = 0;
    for (const [k, v] of Object.entries<any>(tv)) {
      if (!AR4SI_CLAIMS.includes(k)) problems.push(`${name}: ${k} is no AR4SI claim`);
      if (!Number.isInteger(v) || v < -128 || v > 127) problems.push(`${name}: ${k} = ${v} is not an int8`);
      tvWorst = Math.max(tvWorst, TIERS.indexOf(tierOfValue(v)));
    }
    if (TIERS.indexOf(a.ear_status) < tvWorst) problems.push(`${name}: ear_status is more trustworthy than its vector`);
    if ('eat_nonce' in a) {
      const n = Buffer.from(String(a.eat_nonce), 'base64url');
      if (typeof a.eat_nonce !== 'string' || n.length < 8 || n.length > 64) problems.push(`${name}: eat_nonce is not 8..64 bytes`);
    }
    if ('ear_appraisal_policy_ids' in a && !(Array.isArray(a.ear_appraisal_policy_ids) && a.ear_appraisal_policy_ids.length > 0 && a.ear_appraisal_policy_ids.every((x: unknown) => typeof x === 'string'))) {
      problems.push(`${name}: ear_appraisal_policy_ids is not a non-empty array of text`);
    }
    if ('ear_verifier_claims' in a && (typeof a.ear_verifier_claims !== 'object' || Array.isArray(a.ear_verifier_claims))) problems.push(`${name}: ear_verifier_claims is not a map`);
    for (const k of Object.keys(a)) if (k.startsWith('ear.')) problems.push(`${name}: veraison-style label ${k}`);
  }
  if ('ear_status' in c && c.ear_status !== 'none' && TIERS.indexOf(c.ear_status) < worst) problems.push('top-level ear_status is more trustworthy than a submod');
  for (const k of Object.keys(c)) if (k.startsWith('ear.')) problems.push(`veraison-style label ${k}`);
  return problems;
}

describe('signEar: draft-ietf-rats-ear-04 form (the default)', () => {
  it('carries the draft labels and passes an independent check of the draft rules', async () => {
    const { result, ear } = await appraisedEar();
    const claims = payloadOf(ear);
    expect(claims).toEqual({
      eat_profile: EAR_DRAFT_PROFILE,
      iat: 1748779200,
      sub: 'dev-0001',
      eat_nonce: result.nonce,
      ear_verifier_id: verifierId,
      ear_status: 'affirming',
      submods: {
        device: {
          ear_status: 'affirming',
          ear_trustworthiness_vector: result.trustVector,
          ear_appraisal_policy_ids: [FLEETGUARD_APPRAISAL_POLICY_ID],
          // the draft's appraisal-level nonce: the nonce of the evidence this appraisal is about
          eat_nonce: result.nonce,
          ear_verifier_claims: { reasons: [] },
        },
      },
    });
    expect(draftEarProblems(claims)).toEqual([]);
  });

  it('the independent checker does refuse broken draft EARs', async () => {
    const good = payloadOf((await appraisedEar()).ear);
    expect(draftEarProblems({ ...good, eat_profile: EAR_PROFILE })).toContain('eat_profile is not the draft-04 tag');
    expect(draftEarProblems({ ...good, ear_status: 'affirming', submods: { device: { ...good.submods.device, ear_status: 'contraindicated' } } })).toContain('top-level ear_status is more trustworthy than a submod');
    expect(draftEarProblems({ ...good, submods: { device: { ...good.submods.device, ear_trustworthiness_vector: { executables: 96 } } } })).toContain('device: ear_status is more trustworthy than its vector');
    expect(draftEarProblems(payloadOf((await appraisedEar('veraison')).ear)).length).toBeGreaterThan(0);
  });

  it('a failed appraisal: contraindicated at both levels, no eat_nonce, reasons in ear_verifier_claims; verifies with jose and node:crypto', async () => {
    const verifierKey = await createVerifierKey();
    const trustVector = { ...emptyTrustVector(), 'instance-identity': 99 };
    const ear = await signEar({ trustVector, reasons: ['evidence signature does not verify'] }, { verifierKey, verifierId, nonce: null, deviceId: 'd' });
    const jwk = await exportVerifierJwk(verifierKey);
    const claims = await verifyEar(ear, jwk);
    expect(claims).not.toHaveProperty('eat_nonce');
    expect(draftEarProblems(claims)).toEqual([]);
    expect(payloadOf(ear)).toMatchObject({ ear_status: 'contraindicated', submods: { device: { ear_status: 'contraindicated', ear_verifier_claims: { reasons: ['evidence signature does not verify'] } } } });
    expect(earDeviceAppraisal(claims)).toMatchObject({ status: 'contraindicated', reasons: ['evidence signature does not verify'] });
    const [h, p, sig] = ear.split('.');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, b64url(sig))).toBe(true);
  });
});

describe('signEar', () => {
  it('veraison/ear form (form: veraison): profile, iat, nonce, verifier id, submods.device with status, vector, policy, reasons', async () => {
    const { result, ear, verifierKey } = await appraisedEar('veraison');
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
    for (const form of ['draft', 'veraison'] as const) {
      const { ear, jwk } = await appraisedEar(form);
      const claims = await verifyEar(ear, jwk);
      expect(claims.eat_profile).toBe(form === 'draft' ? EAR_DRAFT_PROFILE : EAR_PROFILE);
      expect(earDeviceAppraisal(claims).status).toBe('affirming');
    }
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
    const ear = await signEar({ trustVector, reasons: ['evidence signature does not verify'] }, { verifierKey, verifierId, nonce: null, deviceId: 'd', form: 'veraison' });
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
    expect(keyProtectionOf(pem)).toMatchObject({ kdf: 'pbkdf2', iterations: 600_000, prf: 'hmacWithSHA256' });
    expect(pem).toContain('ENCRYPTED PRIVATE KEY');
    expect((await loadVerifierKey(pem, 'correct horse')).kid).toBe(key.kid);
    await expect(loadVerifierKey(pem, 'wrong')).rejects.toMatchObject({ code: 'verifier-key-invalid' });
    expect((await loadVerifierKey(exportVerifierKeyPem(key))).kid).toBe(key.kid);
  });
});
