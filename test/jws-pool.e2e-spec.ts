import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import { jwsSigningInput, verifyCompactJws } from '@fleetguard/attestation';

/**
 * The attestation's signature pool as the built service runs it (dist/: the workers need compiled
 * JavaScript): verifications and signatures on workers give what the inline functions give, keys
 * cross once per worker and again after the worker forgot them, and a dead worker's jobs fail
 * instead of hanging.
 */
describe('JwsPool on worker threads (built service)', () => {
  const built = path.resolve(__dirname, '../dist/libs/attestation/src/core/jws.pool.js');
  type Pool = {
    mode: string;
    verify(jws: string, key: KeyObject, algs: readonly string[]): Promise<any>;
    sign(input: string, alg: string, key: KeyObject): Promise<string>;
    close(drainMs?: number): Promise<void>;
  };
  let JwsPool: new (size?: number, keysPerWorker?: number) => Pool;
  let pool: Pool;
  beforeAll(() => {
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first (npm test does)`);
    JwsPool = require(built).JwsPool;
    pool = new JwsPool(2);
  });
  afterAll(() => pool?.close());

  const keys = Array.from({ length: 20 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));

  it('runs on workers: signatures jose accepts, verifications as inline', async () => {
    expect(pool.mode).toBe('workers');
    const signed = await Promise.all(
      keys.map(async (k, i) => {
        const input = jwsSigningInput({ alg: 'ES256', typ: 'JWT' }, { i });
        return `${input}.${await pool.sign(input, 'ES256', k.privateKey)}`;
      }),
    );
    for (const [i, jws] of signed.entries()) expect(JSON.parse(new TextDecoder().decode((await compactVerify(jws, keys[i].publicKey)).payload))).toEqual({ i });
    const verified = await Promise.all(signed.map((jws, i) => pool.verify(jws, keys[i].publicKey, ['ES256'])));
    expect(verified.map((v) => v.ok)).toEqual(keys.map(() => true));
    expect(JSON.parse(Buffer.from(verified[3].payload).toString('utf8'))).toEqual({ i: 3 });
    // The wrong key, each on the worker that already holds it: refused as inline refuses it.
    const crossed = await Promise.all(signed.map((jws, i) => pool.verify(jws, keys[(i + 1) % keys.length].publicKey, ['ES256'])));
    expect(crossed).toEqual(signed.map((jws, i) => verifyCompactJws(jws, keys[(i + 1) % keys.length].publicKey, ['ES256'])));
    expect(crossed.every((v) => v.ok === false && v.reason === 'signature')).toBe(true);
  });

  it('a worker holding its most keys forgets them and is sent the ones it needs again', async () => {
    const small = new JwsPool(1, 3);
    try {
      for (let round = 0; round < 3; round++) {
        const sigs = await Promise.all(
          keys.slice(0, 7).map(async (k, i) => {
            const input = jwsSigningInput({ alg: 'ES256' }, { round, i });
            return `${input}.${await small.sign(input, 'ES256', k.privateKey)}`;
          }),
        );
        const one = await Promise.all(sigs.map((jws, i) => small.verify(jws, keys[i].publicKey, ['ES256'])));
        expect(one.every((v) => v.ok)).toBe(true);
        for (const [i, jws] of sigs.entries()) expect((await small.verify(jws, keys[i].publicKey, ['ES256'])).ok).toBe(true);
      }
    } finally {
      await small.close();
    }
  });

  it('an error on the worker fails that job only', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const input = jwsSigningInput({ alg: 'ES256' }, {});
    const [bad, good] = await Promise.allSettled([pool.sign(input, 'ES256', rsa.privateKey), pool.sign(input, 'ES256', keys[0].privateKey)]);
    expect(bad).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringContaining('not a ES256 key') }) });
    expect(good.status).toBe('fulfilled');
  });

  it('after close, new work runs inline and still answers', async () => {
    const p = new JwsPool(1);
    const input = jwsSigningInput({ alg: 'ES256' }, { x: 1 });
    const before = p.sign(input, 'ES256', keys[1].privateKey);
    await p.close();
    const after = await p.sign(input, 'ES256', keys[1].privateKey);
    for (const sig of [await before, after]) expect((await pool.verify(`${input}.${sig}`, keys[1].publicKey, ['ES256'])).ok).toBe(true);
  });
});
