import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildPsaTokenWithCbor2, generateIak } from '@fleetguard/device-kit';
import { makeTempDir, runFleetctl } from '../testing/run-fleetctl';

const SHARED = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'data', 'psa');

describe('fleetctl psa inspect / corim inspect (offline)', () => {
  const dir = makeTempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes a token made by python3-cbor2 + openssl, checks it with --iak, and refuses another key', async () => {
    const iak = generateIak();
    const diag = fs.readFileSync(path.join(SHARED, 'token-claims-P2ClaimsTFM.diag'), 'utf8');
    const token = buildPsaTokenWithCbor2(diag, iak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const file = path.join(dir, 'token.cbor');
    fs.writeFileSync(file, token);
    const pub = path.join(dir, 'iak.pub.pem');
    fs.writeFileSync(pub, iak.publicKey.export({ type: 'spki', format: 'pem' }));
    const r = await runFleetctl(['psa', 'inspect', file, '--iak', pub, '--json']);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ alg: 'ES256', signature: 'verified', claims: { profile: 'http://arm.com/psa/2.0.0', lifecycle: { state: 'secured' }, softwareComponents: [{ measurementType: 'SPE', version: '1.6.0' }, { measurementType: 'NSPE' }] } });
    const text = await runFleetctl(['psa', 'inspect', token.toString('base64url')]);
    expect(text.stdout).toMatch(/SPE 1\.6\.0/);
    const other = path.join(dir, 'other.pub.pem');
    fs.writeFileSync(other, generateIak().publicKey.export({ type: 'spki', format: 'pem' }));
    expect((await runFleetctl(['psa', 'inspect', file, '--iak', other])).code).toBe(1);
    expect((await runFleetctl(['psa', 'inspect', randomBytes(40).toString('base64url')])).code).toBe(1);
  });

  it('prints the valid CoRIM example and refuses the invalid one with the reason', async () => {
    const ok = await runFleetctl(['corim', 'inspect', path.join(SHARED, 'corim-psa-valid.cbor'), '--json']);
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ id: 'psa-valid-corim', signature: 'unsigned', referenceValues: [{ measurementType: 'BL' }], attestKeys: [{}] });
    const bad = await runFleetctl(['corim', 'inspect', path.join(SHARED, 'corim-psa-invalid-impl-id.cbor')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/implementation id is 31 bytes/);
  });
});
