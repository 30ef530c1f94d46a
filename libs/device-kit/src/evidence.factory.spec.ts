import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { buildEvidence } from './evidence.factory';

const fw = { productId: 'sensor', version: '1.2.0', digest: 'ab'.repeat(32), securityCounter: 3 };
const events = [{ pcr: 0, component: 'bootloader', digest: 'cd'.repeat(32) }];

describe('buildEvidence signers', () => {
  const cases = [
    ['P-256', 'ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['P-384', 'ES384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['Ed25519', 'EdDSA', generateKeyPairSync('ed25519')],
  ] as const;

  it.each(cases)('%s: node:crypto and jose sign the same header and payload, and jose verifies both (%s)', async (_name, alg, { privateKey, publicKey }) => {
    const options = { deviceKey: privateKey, deviceId: 'dev-1', nonce: 'bm9uY2U', fw, events, iat: 1_700_000_000 };
    const byJose = await buildEvidence(options);
    const byNode = await buildEvidence({ ...options, signer: 'node:crypto' });
    expect(byNode.split('.').slice(0, 2)).toEqual(byJose.split('.').slice(0, 2));
    expect(decodeProtectedHeader(byNode)).toEqual({ alg, typ: 'JWT' });
    for (const jws of [byJose, byNode]) {
      const { payload, protectedHeader } = await compactVerify(jws, publicKey, { algorithms: [alg] });
      expect(protectedHeader.alg).toBe(alg);
      expect(JSON.parse(Buffer.from(payload).toString())).toMatchObject({ ueid: 'dev-1', eat_nonce: 'bm9uY2U', fw });
    }
  });

  it('a tampered node:crypto signature does not verify', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jws = await buildEvidence({ deviceKey: privateKey, deviceId: 'dev-1', nonce: 'bm9uY2U', fw, events, signer: 'node:crypto' });
    const [h, p, s] = jws.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[5] ^= 1;
    await expect(compactVerify(`${h}.${p}.${sig.toString('base64url')}`, publicKey)).rejects.toThrow(/signature verification failed/);
  });
});
