import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, importJWK, jwtVerify } from 'jose';
import { compactJwsHeader, jwsSigningInput, signJwsInput, verifyCompactJws } from './jws.compact';
import { JwsPool } from './jws.pool';

const keyPairs: Array<[string, KeyObject, KeyObject]> = (() => {
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

const payload = { eat_nonce: 'abc', ueid: 'dev-1', n: 42, text: 'ünïcødé' };
const josed = (alg: string, key: KeyObject, header: Record<string, unknown> = {}) =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);

describe('verifyCompactJws (node:crypto, the same answers as jose)', () => {
  it.each(keyPairs)('verifies %s made by jose, giving its payload bytes', async (alg, priv, pub) => {
    const v = verifyCompactJws(await josed(alg, priv), pub, [alg]);
    expect(v).toMatchObject({ ok: true, alg });
    expect(v.ok && JSON.parse(Buffer.from(v.payload).toString('utf8'))).toEqual(payload);
  });

  it.each(keyPairs)('signs %s that jose verifies', async (alg, priv, pub) => {
    const input = jwsSigningInput({ alg, typ: 'JWT', kid: 'k1' }, payload);
    const jws = `${input}.${signJwsInput(input, alg, priv)}`;
    const { payload: bytes, protectedHeader } = await compactVerify(jws, pub, { algorithms: [alg] });
    expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid: 'k1' });
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual(payload);
  });

  it('refuses another key, an algorithm not allowed, a key that does not fit the algorithm, a changed payload', async () => {
    const [, p256, p256pub] = keyPairs[0];
    const [, , p384pub] = keyPairs[1];
    const jws = await josed('ES256', p256);
    expect(verifyCompactJws(jws, p384pub, ['ES384'])).toMatchObject({ ok: false, reason: 'alg-not-allowed', alg: 'ES256' });
    expect(verifyCompactJws(jws, p384pub, ['ES256'])).toMatchObject({ ok: false, reason: 'signature' });
    expect(verifyCompactJws(jws, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ['ES256'])).toMatchObject({ ok: false, reason: 'signature' });
    const [h, , s] = jws.split('.');
    const other = Buffer.from(JSON.stringify({ ...payload, n: 43 })).toString('base64url');
    expect(verifyCompactJws(`${h}.${other}.${s}`, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'signature' });
    expect(verifyCompactJws(`${h}.${jws.split('.')[1]}.`, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'signature' });
    // HS256 with the public key as the secret: the algorithm comes from the caller, never from the header.
    const hs = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'HS256' }).sign(p256pub.export({ type: 'spki', format: 'der' }));
    expect(verifyCompactJws(hs, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'alg-not-allowed' });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${jws.split('.')[1]}.`;
    expect(verifyCompactJws(none, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'alg-not-allowed' });
  });

  it('refuses what is not a readable compact JWS, and a critical extension (as jose does)', async () => {
    const [, p256, p256pub] = keyPairs[0];
    for (const bad of ['a.b', 'a.b.c.d', 'a b.c.d', `${Buffer.from('[1]').toString('base64url')}.e30.`, `${Buffer.from('not json').toString('base64url')}.e30.`]) {
      expect(verifyCompactJws(bad, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'malformed' });
    }
    const critInput = jwsSigningInput({ alg: 'ES256', crit: ['exp'], exp: 1 }, payload);
    const crit = `${critInput}.${signJwsInput(critInput, 'ES256', p256)}`;
    await expect(compactVerify(crit, p256pub, { algorithms: ['ES256'] })).rejects.toThrow();
    expect(verifyCompactJws(crit, p256pub, ['ES256'])).toMatchObject({ ok: false, reason: 'malformed' });
    expect(compactJwsHeader(crit)).toMatchObject({ alg: 'ES256', crit: ['exp'] });
    expect(compactJwsHeader('nothing')).toBeNull();
  });

  it('an EAR-shaped JWT signed here passes jose jwtVerify with the public JWK', async () => {
    const [, p256, p256pub] = keyPairs[0];
    const input = jwsSigningInput({ alg: 'ES256', typ: 'JWT', kid: 'k' }, { eat_profile: 'x', iat: 1700000000, sub: 'dev-1' });
    const key = await importJWK({ ...p256pub.export({ format: 'jwk' }), alg: 'ES256' }, 'ES256');
    const { payload: claims } = await jwtVerify(`${input}.${signJwsInput(input, 'ES256', p256)}`, key, { algorithms: ['ES256'] });
    expect(claims).toEqual({ eat_profile: 'x', iat: 1700000000, sub: 'dev-1' });
  });
});

describe('JwsPool inline (TypeScript sources: no workers)', () => {
  it('runs inline and answers as the functions do', async () => {
    const pool = new JwsPool(2);
    expect(pool.mode).toBe('inline');
    const [, p256, p256pub] = keyPairs[0];
    const input = jwsSigningInput({ alg: 'ES256' }, payload);
    const jws = `${input}.${await pool.sign(input, 'ES256', p256)}`;
    expect(await pool.verify(jws, p256pub, ['ES256'])).toMatchObject({ ok: true, alg: 'ES256' });
    await expect(pool.sign(input, 'ES256', keyPairs[1][1])).rejects.toThrow(/not a ES256 key/);
    await pool.close();
  });
});
