import { createHash, KeyObject, sign } from 'node:crypto';
import { ZERO_PCR, PcrValues, ecFieldBytes, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE } from '@fleetguard/attestation';

/**
 * Marshals TPM 2.0 quote structures in software, for unit tests and simulated devices without
 * swtpm. Mirrors the layout a real TPM writes (see tpm-attest.parser.ts); the swtpm tests check
 * the parser against real TPM output.
 */

export interface SoftwareQuoteOptions {
  /** The AK private key: EC P-256/P-384 (ECDSA) or RSA (RSASSA). */
  akPrivateKey: KeyObject;
  /** Qualifying data (the verifier nonce's bytes). */
  extraData: Uint8Array;
  /** PCR values of the SHA-256 bank. Absent PCRs are zeros. */
  pcrs: PcrValues;
  /** PCRs to select; defaults to the keys of `pcrs`. */
  select?: number[];
  /** Hash for pcrDigest and signature. */
  hash?: 'sha256' | 'sha384';
}

const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); return b; };
const tpm2b = (data: Uint8Array) => Buffer.concat([u16(data.length), Buffer.from(data)]);

export function marshalPcrSelection(banks: { hashAlg: number; pcrs: number[] }[]): Buffer {
  return Buffer.concat([
    u32(banks.length),
    ...banks.map((bank) => {
      const bitmap = Buffer.alloc(3);
      for (const p of bank.pcrs) bitmap[p >> 3] |= 1 << (p & 7);
      return Buffer.concat([u16(bank.hashAlg), Buffer.from([bitmap.length]), bitmap]);
    }),
  ]);
}

export function marshalTpmsAttestQuote(fields: {
  extraData: Uint8Array;
  banks: { hashAlg: number; pcrs: number[] }[];
  pcrDigest: Uint8Array;
  qualifiedSigner?: Uint8Array;
}): Buffer {
  return Buffer.concat([
    u32(TPM_GENERATED_VALUE),
    u16(TPM_ST_ATTEST_QUOTE),
    tpm2b(fields.qualifiedSigner ?? Buffer.concat([u16(TPM_ALG.SHA256), Buffer.alloc(32, 0x5a)])),
    tpm2b(fields.extraData),
    u64(123456n), u32(1), u32(0), Buffer.from([1]), // clockInfo
    u64(0x2019102300163636n), // firmwareVersion
    marshalPcrSelection(fields.banks),
    tpm2b(fields.pcrDigest),
  ]);
}

export function marshalEcdsaSignature(hashAlg: number, r: Uint8Array, s: Uint8Array): Buffer {
  return Buffer.concat([u16(TPM_ALG.ECDSA), u16(hashAlg), tpm2b(r), tpm2b(s)]);
}

export function marshalRsaSignature(sigAlg: number, hashAlg: number, sig: Uint8Array): Buffer {
  return Buffer.concat([u16(sigAlg), u16(hashAlg), tpm2b(sig)]);
}

/** A quote as a TPM would produce it, signed with `akPrivateKey`. */
export function buildSoftwareQuote(options: SoftwareQuoteOptions): { quote: Buffer; signature: Buffer } {
  const hash = options.hash ?? 'sha256';
  const hashAlg = hash === 'sha256' ? TPM_ALG.SHA256 : TPM_ALG.SHA384;
  const select = [...(options.select ?? Object.keys(options.pcrs).map(Number))].sort((a, b) => a - b);
  const h = createHash(hash);
  for (const p of select) h.update(Buffer.from(options.pcrs[String(p)] ?? ZERO_PCR, 'hex'));
  const quote = marshalTpmsAttestQuote({ extraData: options.extraData, banks: [{ hashAlg: TPM_ALG.SHA256, pcrs: select }], pcrDigest: h.digest() });
  const key = options.akPrivateKey;
  if (key.asymmetricKeyType === 'ec') {
    const size = ecFieldBytes(key)!;
    const raw = sign(hash, quote, { key, dsaEncoding: 'ieee-p1363' });
    return { quote, signature: marshalEcdsaSignature(hashAlg, raw.subarray(0, size), raw.subarray(size)) };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { quote, signature: marshalRsaSignature(TPM_ALG.RSASSA, hashAlg, sign(hash, quote, key)) };
  }
  throw new Error('buildSoftwareQuote: AK must be an EC or RSA key');
}
