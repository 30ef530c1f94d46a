import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { NonceState } from './appraisal.pipeline';
import { PSA_ERROR, parsePsaToken } from './psa-token.parser';
import { appraisePsaToken, psaInstanceIdOf, PsaAppraisalPorts, PsaDeviceRecord, PsaIak, PsaReferenceValue } from './psa-token.appraisal';
import { buildPsaToken, buildPsaTokenWithCbor2, generateIak, PSA_LIFECYCLE_NON_PSA_ROT_DEBUG, psaClaimsMap, PsaTokenSpec, toDiag } from '@fleetguard/device-kit';

const SHARED = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'data', 'psa');
const sha = (s: string) => createHash('sha256').update(s).digest();

/** A device, its IAK, its product's reference values and a nonce store, in memory. */
function world() {
  const iak = generateIak();
  const iakPem = iak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const implementationId = sha('acme-roadrunner-impl');
  const signer = sha('acme-signing-key');
  const spe = sha('spe-image-1.6.0');
  const nspe = sha('nspe-image-0.0.0');
  const nonces = new Map<string, NonceState>();
  const device: PsaDeviceRecord = {
    deviceId: 'mcu-1',
    productId: 'p1',
    certificateStatus: 'valid',
    iak: { publicKey: iak.publicKey, instanceId: null, implementationId, source: 'enrollment' },
    instanceId: null,
    implementationId: null,
  };
  const refs: PsaReferenceValue[] = [
    { source: "CoRIM 'acme'", kind: 'corim', implementationId, measurementType: 'SPE', version: '1.6.0', signerIds: [signer], measurementValue: spe, status: 'trusted' },
    { source: 'MCUboot release 0.0.0+0', kind: 'mcuboot', implementationId: null, measurementType: null, version: '0.0.0+0', signerIds: [signer], measurementValue: nspe, status: 'trusted', release: { version: '0.0.0+0', securityCounter: 3 } },
  ];
  const attestKeys: Array<{ productId: string; iak: PsaIak }> = [];
  const ports: PsaAppraisalPorts = {
    findDevice: async (id) => (id === device.deviceId ? device : null),
    findAttestKey: async (productId, impl, inst) => attestKeys.find((k) => k.productId === productId && k.iak.implementationId?.equals(impl) && k.iak.instanceId?.equals(inst))?.iak ?? null,
    consumeNonce: async (_id, n) => {
      const s = nonces.get(n) ?? 'unknown';
      if (s === 'ok') nonces.set(n, 'used');
      return s;
    },
    referenceValues: async () => refs,
    implementationIds: async () => [implementationId],
  };
  const challenge = (bytes = 32) => {
    const n = randomBytes(bytes);
    nonces.set(n.toString('base64url'), 'ok');
    return n;
  };
  const spec = (over: Partial<PsaTokenSpec> = {}): PsaTokenSpec => ({
    nonce: challenge(),
    instanceId: psaInstanceIdOf(iak.publicKey),
    implementationId,
    components: [
      { measurementType: 'SPE', measurementValue: spe, version: '1.6.0', signerId: signer, measurementDesc: 'SHA256' },
      { measurementType: 'NSPE', measurementValue: nspe, version: '0.0.0', signerId: signer, measurementDesc: 'SHA256' },
    ],
    ...over,
  });
  /** The token as python3-cbor2 encodes and openssl signs it. */
  const cbor2Token = (s: PsaTokenSpec, pem = iakPem) => buildPsaTokenWithCbor2(toDiag(psaClaimsMap(s)), pem);
  const appraise = (token: Uint8Array) => appraisePsaToken({ deviceId: 'mcu-1', token }, ports);
  return { iak, iakPem, device, refs, attestKeys, nonces, ports, challenge, spec, cbor2Token, appraise, implementationId, signer, spe, nspe };
}

describe('PSA token appraisal (RFC 9783)', () => {
  it('affirms a token encoded by python3-cbor2 and signed by openssl, reports the MCUboot release', async () => {
    const w = world();
    const r = await w.appraise(w.cbor2Token(w.spec()));
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
    expect(r.trustVector).toMatchObject({ 'instance-identity': 2, hardware: 2, executables: 2 });
    expect(r.firmware).toEqual({ version: '0.0.0+0', securityCounter: 3 });
    expect(r.claims?.softwareComponents).toHaveLength(2);
  });

  it.each([48, 64])('accepts a %i-byte nonce where the challenge was that long', async (n) => {
    const w = world();
    expect((await w.appraise(w.cbor2Token(w.spec({ nonce: w.challenge(n) })))).status).toBe('affirming');
  });

  it('accepts the older http://arm.com/psa/2.0.0 profile', async () => {
    const w = world();
    expect((await w.appraise(w.cbor2Token(w.spec({ profile: 'http://arm.com/psa/2.0.0' })))).status).toBe('affirming');
  });

  const tamper: Array<[string, (w: ReturnType<typeof world>) => PsaTokenSpec, string, RegExp, Record<string, number>]> = [
    ['wrong component digest', (w) => w.spec({ components: [{ ...w.spec().components[0], measurementValue: sha('evil') }] }), 'psa-component-digest-mismatch', /software component 0 'SPE': measured [0-9a-f]{64}, but the reference value is/, { executables: 96 }],
    ['wrong signer', (w) => w.spec({ components: [{ ...w.spec().components[0], signerId: sha('other-key') }] }), 'psa-component-signer-mismatch', /'SPE': signer id [0-9a-f]{64} is not the reference signer/, { executables: 96 }],
    ['wrong version', (w) => w.spec({ components: [{ ...w.spec().components[0], version: '1.5.0' }] }), 'psa-component-version-mismatch', /reports version 1.5.0, but the reference value \(CoRIM 'acme'\) is version 1.6.0/, { executables: 96 }],
    ['wrong measurement type', (w) => w.spec({ components: [{ ...w.spec().components[0], measurementType: 'BL' }] }), 'psa-component-type-mismatch', /software component 0 'BL': its measurement is the reference of 'SPE'/, { executables: 96 }],
    ['lifecycle non-psa-rot-debug', (w) => w.spec({ lifecycle: PSA_LIFECYCLE_NON_PSA_ROT_DEBUG }), 'psa-lifecycle-not-secured', /security lifecycle is non-psa-rot-debug \(0x4000\), not secured/, { hardware: 96 }],
    ['another implementation id', (w) => w.spec({ implementationId: sha('other-impl') }), 'psa-implementation-id-mismatch', /implementation id [0-9a-f]{64} is not the device's/, { hardware: 96 }],
    ['an unknown component', (w) => w.spec({ components: [{ measurementType: 'ARoT', measurementValue: sha('x'), signerId: sha('y') }] }), 'psa-component-unknown', /is in no reference value/, { executables: 33 }],
  ];
  it.each(tamper)('contraindicates (or flags) %s, naming it', async (_name, make, code, message, vector) => {
    const w = world();
    const r = await w.appraise(w.cbor2Token(make(w)));
    expect(r.findings.map((f) => f.code)).toContain(code);
    expect(r.reasons.join('\n')).toMatch(message);
    expect(r.trustVector).toMatchObject(vector);
    expect(r.status).toBe(Object.values(vector)[0] >= 96 ? 'contraindicated' : 'warning');
  });

  it('names every mismatching component, one reason each', async () => {
    const w = world();
    const [a, b] = w.spec().components;
    const r = await w.appraise(w.cbor2Token(w.spec({ components: [{ ...a, signerId: sha('k') }, { ...b, measurementValue: sha('n') }] })));
    expect(r.findings.map((f) => f.code)).toEqual(['psa-component-signer-mismatch', 'psa-component-digest-mismatch']);
  });

  it('a boot seed missing is a warning', async () => {
    const w = world();
    const r = await w.appraise(w.cbor2Token(w.spec({ bootSeed: null })));
    expect(r.status).toBe('warning');
    expect(r.findings[0].code).toBe('psa-boot-seed-missing');
  });

  it('a token signed by another key is refused at identity (99), nothing else judged', async () => {
    const w = world();
    const other = generateIak().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const r = await w.appraise(w.cbor2Token(w.spec(), other));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.map((f) => f.code)).toEqual(['psa-signature-invalid']);
    expect(r.trustVector['instance-identity']).toBe(99);
    expect(r.nonce).toBeNull();
  });

  it('a wrong nonce, a reused nonce and an expired nonce are refused', async () => {
    const w = world();
    expect((await w.appraise(w.cbor2Token(w.spec({ nonce: randomBytes(32) })))).findings[0].code).toBe('nonce-unknown');
    const token = w.cbor2Token(w.spec());
    expect((await w.appraise(token)).status).toBe('affirming');
    const again = await w.appraise(token);
    expect(again.findings[0]).toMatchObject({ code: 'nonce-used', message: 'the token nonce was already used (replayed token)' });
    const stale = w.challenge();
    w.nonces.set(stale.toString('base64url'), 'expired');
    expect((await w.appraise(w.cbor2Token(w.spec({ nonce: stale })))).findings[0].code).toBe('nonce-expired');
  });

  it('an instance id that is not the device\'s is untrustworthy (96)', async () => {
    const w = world();
    const r = await w.appraise(w.cbor2Token(w.spec({ instanceId: Buffer.concat([Buffer.from([1]), sha('someone')]) })));
    expect(r.findings.map((f) => f.code)).toEqual(['psa-instance-id-mismatch']);
  });

  it('takes the IAK from a CoRIM attest-key triple when none was enrolled', async () => {
    const w = world();
    const instanceId = Buffer.concat([Buffer.from([1]), sha('corim-instance')]);
    w.device.iak = null;
    w.device.instanceId = instanceId;
    w.attestKeys.push({ productId: 'p1', iak: { publicKey: w.iak.publicKey, instanceId, implementationId: w.implementationId, source: 'corim' } });
    expect((await w.appraise(w.cbor2Token(w.spec({ instanceId })))).status).toBe('affirming');
    w.attestKeys.length = 0;
    expect((await w.appraise(w.cbor2Token(w.spec({ instanceId })))).findings[0].code).toBe('psa-iak-unknown');
  });

  it('a revoked MCUboot release is contraindicated', async () => {
    const w = world();
    w.refs[1].status = 'revoked';
    w.refs[1].revokedReason = 'signing key revoked';
    const r = await w.appraise(w.cbor2Token(w.spec()));
    expect(r.status).toBe('contraindicated');
    expect(r.reasons.join()).toMatch(/'NSPE': is MCUboot release 0.0.0\+0, which is revoked \(signing key revoked\)/);
    expect(r.firmware).toBeNull();
  });

  describe('the Veraison claim sets in ../shared/data/psa (encoded by python3-cbor2)', () => {
    const load = (f: string) => readFileSync(path.join(SHARED, f), 'utf8');
    const pem = generateIak().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    it.each(['token-claims-P2ClaimsAll.diag', 'token-claims-P2ClaimsTFM.diag', 'token-claims-P2ClaimsMandatoryOnly.diag'])('%s parses', (f) => {
      const t = parsePsaToken(buildPsaTokenWithCbor2(load(f), pem));
      expect(t.claims.profile).toBe('http://arm.com/psa/2.0.0');
      expect(t.claims.lifecycle).toBe(0x3000);
    });
    it('a nonce given as an array is refused', () => {
      expect(() => parsePsaToken(buildPsaTokenWithCbor2(load('token-claims-P2ClaimsInvalidMultiNonce.diag'), pem))).toThrow(expect.objectContaining({ code: PSA_ERROR.claimsInvalid, message: 'PSA claim nonce (10) must be a byte string' }));
    });
    it('a missing nonce is refused', () => {
      expect(() => parsePsaToken(buildPsaTokenWithCbor2(load('token-claims-P2ClaimsMissingMandatoryNonce.diag'), pem))).toThrow('PSA claim nonce (10) is missing');
    });
  });

  it('fuzz: 10,000 mutated tokens through the whole appraisal give typed refusals or non-affirming results', async () => {
    const w = world();
    const seed = buildPsaToken(w.spec(), w.iak.privateKey);
    const codes = new Set<string>([...Object.values(PSA_ERROR), 'cose-alg-unsupported']);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(seed.length), async (edits, cut) => {
        const b = Buffer.from(seed);
        for (const [i, v] of edits) b[i] = v;
        const bytes = b.subarray(0, Math.max(1, cut));
        if (bytes.equals(seed)) return;
        try {
          const r = await w.appraise(bytes);
          expect(r.status).not.toBe('affirming');
        } catch (e) {
          if (!codes.has((e as { code?: string }).code ?? '')) throw e;
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
