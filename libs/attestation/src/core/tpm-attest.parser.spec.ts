import fc from 'fast-check';
import { isDomainError } from '@fleetguard/common';
import { marshalEcdsaSignature, marshalRsaSignature, marshalTpmsAttestQuote } from '@fleetguard/device-kit';
import { parseTpmsAttest, parseTpmtSignature, TPM_ALG, TPM_ST_ATTEST_QUOTE } from './tpm-attest.parser';
import { SWTPM_VECTOR } from './tpm-quote.vectors';

const quote = Buffer.from(SWTPM_VECTOR.quoteHex, 'hex');
const signature = Buffer.from(SWTPM_VECTOR.signatureHex, 'hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isDomainError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('parseTpmsAttest', () => {
  it('reads a real swtpm quote', () => {
    const a = parseTpmsAttest(quote);
    expect(a.magic).toBe(0xff544347);
    expect(a.type).toBe(TPM_ST_ATTEST_QUOTE);
    expect(a.qualifiedSigner.toString('hex')).toBe('000b6a740a85e55a35033d4d8cea9c6bf6e74fd241e5706c15cb3272015c22bd6f0f');
    expect(a.extraData.toString('hex')).toBe(SWTPM_VECTOR.nonceHex);
    expect(a.clockInfo).toEqual({ clock: 74n, resetCount: 1, restartCount: 0, safe: true });
    expect(a.firmwareVersion).toBe(0x2019102300163636n);
    expect(a.quote.pcrSelections).toEqual([{ hashAlg: TPM_ALG.SHA256, hash: 'sha256', pcrs: [0, 4] }]);
    expect(a.quote.pcrDigest.toString('hex')).toBe('fffbb2d00117026d8db3f4bca42c90a69b01c1c293e0b1b9d427f9403e138b37');
  });

  it('round-trips what the software marshaller writes, with several banks', () => {
    const bytes = marshalTpmsAttestQuote({
      extraData: Buffer.alloc(16, 1),
      banks: [{ hashAlg: TPM_ALG.SHA1, pcrs: [1] }, { hashAlg: TPM_ALG.SHA256, pcrs: [0, 7, 8, 23] }],
      pcrDigest: Buffer.alloc(32, 2),
    });
    expect(parseTpmsAttest(bytes).quote.pcrSelections).toEqual([
      { hashAlg: TPM_ALG.SHA1, hash: 'sha1', pcrs: [1] },
      { hashAlg: TPM_ALG.SHA256, hash: 'sha256', pcrs: [0, 7, 8, 23] },
    ]);
  });

  it('refuses every truncation of a real quote', () => {
    for (let n = 0; n < quote.length; n++) expect(codeOf(() => parseTpmsAttest(quote.subarray(0, n)))).toBe('tpm-quote-malformed');
  });

  it('refuses trailing bytes, a wrong magic, another attestation type, a bad TPMI_YES_NO', () => {
    expect(codeOf(() => parseTpmsAttest(Buffer.concat([quote, Buffer.from([0])])))).toBe('tpm-quote-malformed');
    const magic = Buffer.from(quote);
    magic[0] = 0xfe;
    expect(codeOf(() => parseTpmsAttest(magic))).toBe('tpm-quote-malformed');
    const certify = Buffer.from(quote);
    certify.writeUInt16BE(0x8017, 4); // TPM_ST_ATTEST_CERTIFY
    expect(codeOf(() => parseTpmsAttest(certify))).toBe('tpm-quote-malformed');
    const safe = Buffer.from(quote);
    safe[0x5c] = 2; // clockInfo.safe
    expect(codeOf(() => parseTpmsAttest(safe))).toBe('tpm-quote-malformed');
  });

  it('refuses TPM2B sizes beyond their maximum and too many banks', () => {
    const bigName = Buffer.from(quote);
    bigName.writeUInt16BE(0x0100, 6); // qualifiedSigner.size
    expect(codeOf(() => parseTpmsAttest(bigName))).toBe('tpm-quote-malformed');
    const banks = Buffer.from(quote);
    banks.writeUInt32BE(1000, 0x65); // TPML_PCR_SELECTION.count
    expect(codeOf(() => parseTpmsAttest(banks))).toBe('tpm-quote-malformed');
  });

  it('refuses input larger than 1 KiB and non-bytes', () => {
    expect(codeOf(() => parseTpmsAttest(Buffer.alloc(2048)))).toBe('tpm-quote-malformed');
    expect(codeOf(() => parseTpmsAttest('ff54' as unknown as Uint8Array))).toBe('tpm-quote-malformed');
  });

  it('never throws anything but a DomainError on arbitrary bytes or mutations', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(['accepted', 'tpm-quote-malformed']).toContain(codeOf(() => parseTpmsAttest(bytes)));
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: quote.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const m = Buffer.from(quote);
        m[at] = value;
        expect(['accepted', 'tpm-quote-malformed']).toContain(codeOf(() => parseTpmsAttest(m)));
      }),
    );
  });
});

describe('parseTpmtSignature', () => {
  it('reads a real swtpm ECDSA signature (tpm2_quote default format)', () => {
    const s = parseTpmtSignature(signature);
    expect(s).toMatchObject({ sigAlg: 'ecdsa', hashAlg: TPM_ALG.SHA256, hash: 'sha256' });
    if (s.sigAlg !== 'ecdsa') throw new Error('not ecdsa');
    expect(s.r.toString('hex')).toBe('4ecdb392ad9b086c665e27ed8159d2771a9bebfc2dab6d73a828b80c78564c09');
    expect(s.s.toString('hex')).toBe('a54554608d50500deb738c7e123adeeff137cb22c8ee72c2a08d4f9bd468b935');
  });

  it('reads RSASSA and RSAPSS', () => {
    const sig = Buffer.alloc(256, 9);
    expect(parseTpmtSignature(marshalRsaSignature(TPM_ALG.RSASSA, TPM_ALG.SHA256, sig))).toMatchObject({ sigAlg: 'rsassa', hash: 'sha256', signature: sig });
    expect(parseTpmtSignature(marshalRsaSignature(TPM_ALG.RSAPSS, TPM_ALG.SHA384, sig))).toMatchObject({ sigAlg: 'rsapss', hash: 'sha384' });
  });

  it('refuses truncations, trailing bytes, empty r, unknown algorithms, a DER signature (-f plain)', () => {
    for (let n = 0; n < signature.length; n++) expect(codeOf(() => parseTpmtSignature(signature.subarray(0, n)))).toBe('tpm-signature-malformed');
    expect(codeOf(() => parseTpmtSignature(Buffer.concat([signature, Buffer.from([0])])))).toBe('tpm-signature-malformed');
    expect(codeOf(() => parseTpmtSignature(marshalEcdsaSignature(TPM_ALG.SHA256, Buffer.alloc(0), Buffer.alloc(32, 1))))).toBe('tpm-signature-malformed');
    expect(codeOf(() => parseTpmtSignature(Buffer.from('001c000b0000', 'hex')))).toBe('tpm-signature-unsupported'); // ECSCHNORR
    expect(codeOf(() => parseTpmtSignature(Buffer.from('3045022100', 'hex')))).toBe('tpm-signature-unsupported');
  });
});
