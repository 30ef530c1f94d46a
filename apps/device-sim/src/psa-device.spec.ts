import { createHash, randomBytes } from 'node:crypto';
import { appraisePsaToken, parsePsaToken, PsaAppraisalPorts, verifyPsaToken } from '@fleetguard/attestation';
import { PSA_BEHAVIOURS, PsaBehaviour, PsaDevice } from './psa-device';

const sha = (s: string) => createHash('sha256').update(s).digest();

/** The simulator's tokens, read by the verifier core: each behaviour tampers with exactly what it says. */
describe('PsaDevice tokens', () => {
  const firmware = { version: '1.2.3+0', imageHash: `sha256:${sha('image').toString('hex')}`, signerId: sha('key').toString('hex') };
  const run = async (behaviour: PsaBehaviour) => {
    const d = new PsaDevice({ operatorUrl: 'http://127.0.0.1:1', deviceUrl: 'https://127.0.0.1:1', mqttUrl: 'mqtts://127.0.0.1:1', token: 't', firmware, behaviour });
    const nonce = randomBytes(32).toString('base64url');
    const ports: PsaAppraisalPorts = {
      findDevice: async () => ({ deviceId: 'x', productId: 'p', certificateStatus: 'valid', iak: { publicKey: d.iak.publicKey, instanceId: null, implementationId: d.implementationId, source: 'enrollment' }, instanceId: null, implementationId: null }),
      findAttestKey: async () => null,
      consumeNonce: async (_id, n) => (n === nonce ? 'ok' : 'unknown'),
      referenceValues: async () => [{ source: 'MCUboot release 1.2.3+0', kind: 'mcuboot', implementationId: null, measurementType: null, version: '1.2.3+0', signerIds: [sha('key')], measurementValue: sha('image'), status: 'trusted', release: { version: '1.2.3+0', securityCounter: 1 } }],
      implementationIds: async () => [],
    };
    const token = d.token(nonce);
    return { d, token, result: await appraisePsaToken({ deviceId: 'x', token }, ports) };
  };

  it('a good device is affirmed; its token verifies with its IAK', async () => {
    const { d, token, result } = await run('good');
    expect(result.status).toBe('affirming');
    expect(() => verifyPsaToken(parsePsaToken(token), d.iak.publicKey)).not.toThrow();
  });

  const expected: Record<Exclude<PsaBehaviour, 'good'>, string> = {
    'wrong-digest': 'psa-component-digest-mismatch',
    'wrong-signer': 'psa-component-signer-mismatch',
    'debug-lifecycle': 'psa-lifecycle-not-secured',
    'wrong-nonce': 'nonce-unknown',
    'foreign-key': 'psa-signature-invalid',
    'no-boot-seed': 'psa-boot-seed-missing',
  };
  it.each(PSA_BEHAVIOURS.filter((b) => b !== 'good'))('%s is caught', async (behaviour) => {
    const { result } = await run(behaviour);
    expect(result.status).not.toBe('affirming');
    expect(result.findings.map((f) => f.code)).toEqual([expected[behaviour as Exclude<PsaBehaviour, 'good'>]]);
  });
});
