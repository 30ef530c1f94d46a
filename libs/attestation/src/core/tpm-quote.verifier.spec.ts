import fc from 'fast-check';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { replayEventLog } from './event-log.replay';
import { buildSoftwareQuote, marshalEcdsaSignature, marshalTpmsAttestQuote } from '@fleetguard/device-kit';
import { TPM_ALG } from './tpm-attest.parser';
import { verifyTpmQuote } from './tpm-quote.verifier';
import { SWTPM_VECTOR } from './tpm-quote.vectors';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const events = [
  { pcr: 0, component: 'rom', digest: sha('rom') },
  { pcr: 4, component: 'kernel', digest: sha('kernel') },
];
const pcrs = replayEventLog(events);
const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const akPem = ak.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const nonce = randomBytes(32);

const codes = (r: { failures: { code: string }[] }) => r.failures.map((f) => f.code);

describe('verifyTpmQuote with the captured swtpm quote', () => {
  const input = {
    quote: Buffer.from(SWTPM_VECTOR.quoteHex, 'hex'),
    signature: Buffer.from(SWTPM_VECTOR.signatureHex, 'hex'),
    akPublicKey: SWTPM_VECTOR.akPublicKeyPem,
    expectedNonce: Buffer.from(SWTPM_VECTOR.nonceHex, 'hex'),
    pcrs: SWTPM_VECTOR.pcrs,
    requiredPcrs: [4],
  };

  it('random "-f plain" signatures (DER-looking, or modulus-sized) fail the signature check, never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 120 }), (bytes) => {
        const signature = Buffer.concat([Buffer.from([0x30]), Buffer.from(bytes)]);
        const r = verifyTpmQuote({ ...input, signature });
        expect(r.ok).toBe(false);
        expect(r.failures[0].check).toBe('signature');
      }),
      { numRuns: 300 },
    );
  });

  it('verifies (PCR 0 absent from the map counts as zeros)', () => {
    const r = verifyTpmQuote(input);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.quotedPcrs).toEqual([0, 4]);
  });

  it('fails on another nonce, other PCRs, another AK', () => {
    expect(codes(verifyTpmQuote({ ...input, expectedNonce: Buffer.alloc(32) }))).toEqual(['tpm-nonce-mismatch']);
    expect(codes(verifyTpmQuote({ ...input, pcrs: { '4': sha('b') } }))).toEqual(['tpm-pcr-digest-mismatch']);
    expect(codes(verifyTpmQuote({ ...input, akPublicKey: akPem }))).toEqual(['tpm-signature-invalid']);
  });

  it('fails when a byte of the signed quote changes', () => {
    const q = Buffer.from(input.quote);
    q[q.length - 1] ^= 1;
    expect(codes(verifyTpmQuote({ ...input, quote: q }))).toEqual(['tpm-signature-invalid']);
  });
});

describe('verifyTpmQuote with software quotes', () => {
  const base = () => {
    const q = buildSoftwareQuote({ akPrivateKey: ak.privateKey, extraData: nonce, pcrs, select: [0, 4, 7] });
    return { ...q, akPublicKey: akPem, expectedNonce: nonce, pcrs, requiredPcrs: [0, 4] };
  };

  it('verifies a matching quote and reports the quoted PCRs', () => {
    const r = verifyTpmQuote(base());
    expect(r).toMatchObject({ ok: true, failures: [], quotedPcrs: [0, 4, 7] });
  });

  it('names the nonce, PCR digest and coverage failures together', () => {
    const q = buildSoftwareQuote({ akPrivateKey: ak.privateKey, extraData: randomBytes(32), pcrs: { ...pcrs, '0': sha('evil') }, select: [0] });
    const r = verifyTpmQuote({ ...base(), ...q });
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual(['tpm-nonce-mismatch', 'tpm-pcr-not-quoted', 'tpm-pcr-digest-mismatch']);
    expect(r.failures[1].message).toContain('does not cover PCR 4');
  });

  it('stops after a bad signature: nothing else in the quote is trusted', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const q = buildSoftwareQuote({ akPrivateKey: other.privateKey, extraData: randomBytes(32), pcrs: {}, select: [0] });
    const r = verifyTpmQuote({ ...base(), ...q });
    expect(r.failures).toEqual([expect.objectContaining({ check: 'signature', code: 'tpm-signature-invalid', message: expect.stringContaining('attestation key') })]);
  });

  it('verifies P-384 with SHA-384 and RSA (RSASSA) AKs', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const q384 = buildSoftwareQuote({ akPrivateKey: p384.privateKey, extraData: nonce, pcrs, hash: 'sha384' });
    expect(verifyTpmQuote({ ...q384, akPublicKey: p384.publicKey, expectedNonce: nonce, pcrs }).failures).toEqual([]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const qr = buildSoftwareQuote({ akPrivateKey: rsa.privateKey, extraData: nonce, pcrs });
    expect(verifyTpmQuote({ ...qr, akPublicKey: rsa.publicKey, expectedNonce: nonce, pcrs }).failures).toEqual([]);
    expect(codes(verifyTpmQuote({ ...qr, akPublicKey: akPem, expectedNonce: nonce, pcrs }))).toEqual(['tpm-ak-mismatch']);
  });

  it('accepts ECDSA r/s with leading zeros dropped, refuses r/s wider than the curve', () => {
    const { quote, signature } = base();
    const r = signature.subarray(6, 38);
    const s = signature.subarray(40, 72);
    const short = marshalEcdsaSignature(TPM_ALG.SHA256, Buffer.concat([Buffer.alloc(2), r]), s);
    expect(verifyTpmQuote({ ...base(), quote, signature: short }).ok).toBe(true);
    const wide = marshalEcdsaSignature(TPM_ALG.SHA256, Buffer.concat([Buffer.from([1]), r]), s);
    expect(codes(verifyTpmQuote({ ...base(), quote, signature: wide }))).toEqual(['tpm-signature-invalid']);
  });

  it('refuses a SHA-1 signature and a SHA-1 PCR bank', () => {
    const { quote, signature } = base();
    const sha1Sig = Buffer.from(signature);
    sha1Sig.writeUInt16BE(TPM_ALG.SHA1, 2);
    expect(codes(verifyTpmQuote({ ...base(), quote, signature: sha1Sig }))).toEqual(['tpm-signature-hash-unsupported']);

    const digest = createHash('sha256').update(Buffer.alloc(20)).digest();
    const sha1Bank = marshalTpmsAttestQuote({ extraData: nonce, banks: [{ hashAlg: TPM_ALG.SHA1, pcrs: [0] }], pcrDigest: digest });
    const raw = sign('sha256', sha1Bank, { key: ak.privateKey, dsaEncoding: 'ieee-p1363' });
    const sig = marshalEcdsaSignature(TPM_ALG.SHA256, raw.subarray(0, 32), raw.subarray(32));
    expect(codes(verifyTpmQuote({ ...base(), quote: sha1Bank, signature: sig }))).toEqual(['tpm-pcr-bank-unsupported']);
  });

  it('reports malformed structures and an unreadable AK as structure failures', () => {
    expect(verifyTpmQuote({ ...base(), quote: Buffer.alloc(10) }).failures).toEqual([expect.objectContaining({ check: 'structure', code: 'tpm-quote-malformed' })]);
    expect(verifyTpmQuote({ ...base(), signature: Buffer.from('0018000b00', 'hex') }).failures).toEqual([expect.objectContaining({ check: 'structure', code: 'tpm-signature-malformed' })]);
    expect(verifyTpmQuote({ ...base(), akPublicKey: 'not a pem' }).failures).toEqual([expect.objectContaining({ check: 'structure', code: 'tpm-ak-invalid' })]);
  });
});
