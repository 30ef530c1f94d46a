import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { DomainError, isDomainError } from '@fleetguard/common';
import { assertCompactJws, MAX_EVIDENCE_CHARS, parseEvidenceClaims, verifyCheckedEvidenceSignature, verifyEvidence } from './eat-evidence.parser';
import { newNonce } from './nonce';
import { sampleBootEvents, sha256Hex, buildEvidence } from '@fleetguard/device-kit';

const fw = { productId: 'prod-1', version: '1.0.0', digest: `sha256:${sha256Hex('img')}`, securityCounter: 3 };

function validPayload(): Record<string, any> {
  return {
    eat_nonce: newNonce(60).nonce,
    ueid: 'dev-1',
    iat: 1_700_000_000,
    fw: { ...fw },
    boot: { alg: 'sha256', events: sampleBootEvents(), pcrs: { '0': sha256Hex('x') } },
  };
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isDomainError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('parseEvidenceClaims', () => {
  it('returns typed claims, digests normalized to lowercase bare hex', () => {
    const p = validPayload();
    p.fw.digest = p.fw.digest.toUpperCase().replace('SHA256:', 'sha256:');
    p.tpm = { quote: Buffer.from('quote').toString('base64'), signature: Buffer.from('sig').toString('base64') };
    p.extra = 'ignored';
    const c = parseEvidenceClaims(p);
    expect(c.fw.digest).toBe(sha256Hex('img'));
    expect(c.ueid).toBe('dev-1');
    expect(c.boot.events).toHaveLength(5);
    expect(c.tpm?.quote.toString()).toBe('quote');
    expect(c).not.toHaveProperty('extra');
  });

  it.each<[string, (p: Record<string, any>) => void, string]>([
    ['missing eat_nonce', (p) => delete p.eat_nonce, 'eat_nonce'],
    ['short nonce', (p) => (p.eat_nonce = 'AAAA'), 'eat_nonce'],
    ['ueid not a string', (p) => (p.ueid = 42), 'ueid'],
    ['iat not an integer', (p) => (p.iat = 1.5), 'iat'],
    ['fw digest not sha256', (p) => (p.fw.digest = 'md5:abc'), 'fw.digest'],
    ['negative security counter', (p) => (p.fw.securityCounter = -1), 'fw.securityCounter'],
    ['unknown fw field', (p) => (p.fw.extra = 1), 'fw'],
    ['boot alg sha1', (p) => (p.boot.alg = 'sha1'), 'boot.alg'],
    ['PCR 24 in an event', (p) => (p.boot.events[0].pcr = 24), 'boot.events.0.pcr'],
    ['short event digest', (p) => (p.boot.events[1].digest = 'abcd'), 'boot.events.1.digest'],
    ['empty component name', (p) => (p.boot.events[2].component = ''), 'boot.events.2.component'],
    ['control characters in a component', (p) => (p.boot.events[2].component = 'ker\nnel'), 'boot.events.2.component'],
    ['PCR key 24', (p) => (p.boot.pcrs['24'] = sha256Hex('x')), 'boot.pcrs'],
    ['PCR key 04', (p) => (p.boot.pcrs['04'] = sha256Hex('x')), 'boot.pcrs'],
    ['PCR value not hex', (p) => (p.boot.pcrs['0'] = 'zz'), 'boot.pcrs.0'],
    ['too many events', (p) => (p.boot.events = Array.from({ length: 513 }, () => sampleBootEvents()[0])), 'boot.events'],
    ['tpm quote not base64', (p) => (p.tpm = { quote: '!!', signature: 'AAAA' }), 'tpm.quote'],
    ['tpm quote over 1 KiB', (p) => (p.tpm = { quote: Buffer.alloc(1100).toString('base64'), signature: 'AAAA' }), 'tpm.quote'],
  ])('refuses %s, naming the field', (_label, mutate, field) => {
    const p = validPayload();
    mutate(p);
    try {
      parseEvidenceClaims(p);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe('evidence-claims-invalid');
      expect((e as DomainError).message).toContain(field);
    }
  });

  it('refuses a payload that is not an object', () => {
    for (const p of [null, 42, 'x', []]) expect(() => parseEvidenceClaims(p)).toThrow(DomainError);
  });
});

describe('verifyEvidence', () => {
  const keys: [string, KeyObject, KeyObject][] = (() => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const ed = generateKeyPairSync('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return [
      ['ES256', p256.privateKey, p256.publicKey],
      ['ES384', p384.privateKey, p384.publicKey],
      ['EdDSA', ed.privateKey, ed.publicKey],
      ['RS256', rsa.privateKey, rsa.publicKey],
      ['PS256', rsa.privateKey, rsa.publicKey],
    ];
  })();

  it.each(keys)('accepts %s evidence with the matching enrolled key', async (alg, priv, pub) => {
    const jws = await buildEvidence({ deviceKey: priv, deviceId: 'dev-1', nonce: newNonce(60).nonce, fw, events: sampleBootEvents(), alg });
    const c = await verifyEvidence(jws, pub);
    expect(c.alg).toBe(alg);
    expect(c.ueid).toBe('dev-1');
  });

  it('refuses another key, an algorithm the key does not allow, and HS256 with the public key as secret', async () => {
    const [, p256, p256pub] = keys[0];
    const [, , p384pub] = keys[1];
    const jws = await buildEvidence({ deviceKey: p256, deviceId: 'dev-1', nonce: newNonce(60).nonce, fw, events: [] });
    expect(await codeOf(verifyEvidence(jws, keys[2][2]))).toBe('evidence-signature-invalid');
    expect(await codeOf(verifyEvidence(jws, p384pub))).toBe('evidence-signature-invalid');
    const secret = p256pub.export({ type: 'spki', format: 'der' });
    const hs = await new CompactSign(new TextEncoder().encode(JSON.stringify(validPayload()))).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    expect(await codeOf(verifyEvidence(hs, p256pub))).toBe('evidence-signature-invalid');
    const [h, p] = jws.split('.');
    expect(await codeOf(verifyEvidence(`${h}.${p}.`, p256pub))).toBe('evidence-signature-invalid');
  });

  it('the checked form (its caller ran assertCompactJws) still refuses what is not a JWS it can verify, as malformed', async () => {
    const [, p256, p256pub] = keys[0];
    const jws = await buildEvidence({ deviceKey: p256, deviceId: 'dev-1', nonce: newNonce(60).nonce, fw, events: [] });
    await expect(verifyCheckedEvidenceSignature(jws, p256pub)).resolves.toMatchObject({ alg: 'ES256' });
    for (const bad of ['not a jws', 'a.b.c', `${jws}.x`, jws.replace('.', '.*')]) expect(await codeOf(verifyCheckedEvidenceSignature(bad, p256pub))).toBe('evidence-malformed');
  });

  it('refuses what is not a compact JWS, or too large', async () => {
    expect(await codeOf(() => assertCompactJws('not a jws'))).toBe('evidence-malformed');
    expect(await codeOf(() => assertCompactJws('a.b.c'))).toBe('evidence-malformed');
    expect(await codeOf(() => assertCompactJws(42))).toBe('evidence-malformed');
    expect(await codeOf(() => assertCompactJws('a'.repeat(MAX_EVIDENCE_CHARS + 1)))).toBe('evidence-too-large');
  });

  it('refuses a signed payload that is not JSON', async () => {
    const [, priv, pub] = keys[0];
    const jws = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'ES256' }).sign(priv);
    expect(await codeOf(verifyEvidence(jws, pub))).toBe('evidence-malformed');
  });
});
