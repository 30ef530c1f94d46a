/**
 * Parsers for the TPM 2.0 structures a quote is made of (TPM 2.0 Library, Part 2: Structures):
 * TPMS_ATTEST with TPMS_QUOTE_INFO, TPML_PCR_SELECTION and TPMT_SIGNATURE.
 *
 * Hand-written on purpose: no maintained npm package parses these marshalled structures (the
 * few that exist are abandoned or pull in a whole TSS). They are small, big-endian, and every
 * variable-length field is a TPM2B (u16 size + bytes), so a strict bounds-checked reader is a few
 * dozen lines. Every read is checked against the buffer end and against the structure's maximum
 * size, and trailing bytes are an error: a quote is signed as a whole, so nothing may hide after it.
 */
import { DomainError, invalid } from '@fleetguard/common';

export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;

export const TPM_ALG = {
  SHA1: 0x0004,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  RSASSA: 0x0014,
  RSAPSS: 0x0016,
  ECDSA: 0x0018,
} as const;

export type TpmHashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const HASH_NAMES: Record<number, TpmHashName> = {
  [TPM_ALG.SHA1]: 'sha1',
  [TPM_ALG.SHA256]: 'sha256',
  [TPM_ALG.SHA384]: 'sha384',
  [TPM_ALG.SHA512]: 'sha512',
};

export function tpmHashName(alg: number): TpmHashName | null {
  return HASH_NAMES[alg] ?? null;
}

/** Largest sizes we accept (TPM limits: a TPM2B_NAME/DATA holds at most a TPMT_HA, 2 + 64 bytes). */
const MAX_NAME = 2 + 64;
const MAX_DATA = 64 + 2;
const MAX_DIGEST = 64;
const MAX_PCR_BANKS = 16; // HASH_COUNT on real TPMs is 1..5
const MAX_SIZEOF_SELECT = 4; // 32 PCRs; PC Client TPMs have 24 (3 bytes)
const MAX_ECC_PARAM = 66; // P-521
const MAX_RSA_SIGNATURE = 512; // RSA-4096
export const MAX_TPMS_ATTEST_BYTES = 1024;
export const MAX_TPMT_SIGNATURE_BYTES = 1024;

export interface TpmsPcrSelection {
  hashAlg: number;
  /** null when the TPM algorithm id is not a hash we know. */
  hash: TpmHashName | null;
  /** Selected PCR indexes, ascending (the order the TPM concatenates them in). */
  pcrs: number[];
}

export interface TpmsClockInfo {
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

export interface TpmsAttest {
  magic: number;
  type: number;
  qualifiedSigner: Buffer;
  extraData: Buffer;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
  quote: { pcrSelections: TpmsPcrSelection[]; pcrDigest: Buffer };
}

export type TpmtSignature =
  | { sigAlg: 'ecdsa'; hashAlg: number; hash: TpmHashName | null; r: Buffer; s: Buffer }
  | { sigAlg: 'rsassa' | 'rsapss'; hashAlg: number; hash: TpmHashName | null; signature: Buffer };

/** Big-endian reader that throws a DomainError with `code` on any out-of-bounds read. */
class TpmReader {
  private offset = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly code: string,
    private readonly what: string,
  ) {}

  fail(message: string): DomainError {
    return invalid(this.code, `${this.what}: ${message} (at byte ${this.offset})`);
  }
  private need(n: number, field: string): void {
    if (this.offset + n > this.buf.length) throw this.fail(`truncated in ${field}`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.offset++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = Buffer.from(this.buf.subarray(this.offset, this.offset + n));
    this.offset += n;
    return v;
  }
  /** TPM2B: u16 size, then that many bytes; size must not exceed `max`. */
  tpm2b(max: number, field: string): Buffer {
    const size = this.u16(`${field} size`);
    if (size > max) throw this.fail(`${field} is ${size} bytes, more than ${max}`);
    return this.bytes(size, field);
  }
  end(): void {
    if (this.offset !== this.buf.length) throw this.fail(`${this.buf.length - this.offset} trailing bytes`);
  }
}

function asBuffer(input: Uint8Array, code: string, what: string, max: number): Buffer {
  if (!(input instanceof Uint8Array)) throw invalid(code, `${what} must be bytes`);
  if (input.length > max) throw invalid(code, `${what} is larger than ${max} bytes`);
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

function readPcrSelection(r: TpmReader): TpmsPcrSelection[] {
  const count = r.u32('TPML_PCR_SELECTION.count');
  if (count > MAX_PCR_BANKS) throw r.fail(`TPML_PCR_SELECTION.count ${count} is more than ${MAX_PCR_BANKS}`);
  const banks: TpmsPcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16('TPMS_PCR_SELECTION.hash');
    const sizeofSelect = r.u8('TPMS_PCR_SELECTION.sizeofSelect');
    if (sizeofSelect > MAX_SIZEOF_SELECT) throw r.fail(`sizeofSelect ${sizeofSelect} is more than ${MAX_SIZEOF_SELECT}`);
    const bitmap = r.bytes(sizeofSelect, 'TPMS_PCR_SELECTION.pcrSelect');
    const pcrs: number[] = [];
    // Byte i, bit j (LSB first) selects PCR 8*i + j.
    for (let byte = 0; byte < bitmap.length; byte++) {
      for (let bit = 0; bit < 8; bit++) if (bitmap[byte] & (1 << bit)) pcrs.push(byte * 8 + bit);
    }
    banks.push({ hashAlg, hash: tpmHashName(hashAlg), pcrs });
  }
  return banks;
}

/** Parses a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (what `tpm2_quote -m` writes). */
export function parseTpmsAttest(input: Uint8Array): TpmsAttest {
  const code = 'tpm-quote-malformed';
  const r = new TpmReader(asBuffer(input, code, 'TPMS_ATTEST', MAX_TPMS_ATTEST_BYTES), code, 'TPMS_ATTEST');
  const magic = r.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) throw r.fail(`magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE`);
  const type = r.u16('type');
  if (type !== TPM_ST_ATTEST_QUOTE) throw r.fail(`type is 0x${type.toString(16)}, not TPM_ST_ATTEST_QUOTE`);
  const qualifiedSigner = r.tpm2b(MAX_NAME, 'qualifiedSigner');
  const extraData = r.tpm2b(MAX_DATA, 'extraData');
  const clock = r.u64('clockInfo.clock');
  const resetCount = r.u32('clockInfo.resetCount');
  const restartCount = r.u32('clockInfo.restartCount');
  const safeByte = r.u8('clockInfo.safe');
  if (safeByte > 1) throw r.fail('clockInfo.safe is not a TPMI_YES_NO');
  const firmwareVersion = r.u64('firmwareVersion');
  const pcrSelections = readPcrSelection(r);
  const pcrDigest = r.tpm2b(MAX_DIGEST, 'pcrDigest');
  r.end();
  return {
    magic,
    type,
    qualifiedSigner,
    extraData,
    clockInfo: { clock, resetCount, restartCount, safe: safeByte === 1 },
    firmwareVersion,
    quote: { pcrSelections, pcrDigest },
  };
}

/**
 * Parses a marshalled TPMT_SIGNATURE (what `tpm2_quote -s` writes by default, `-f tss`):
 * ECDSA (TPMS_SIGNATURE_ECC: hash, r, s) or RSASSA/RSAPSS (TPMS_SIGNATURE_RSA: hash, sig).
 */
export function parseTpmtSignature(input: Uint8Array): TpmtSignature {
  const code = 'tpm-signature-malformed';
  const r = new TpmReader(asBuffer(input, code, 'TPMT_SIGNATURE', MAX_TPMT_SIGNATURE_BYTES), code, 'TPMT_SIGNATURE');
  const sigAlg = r.u16('sigAlg');
  let sig: TpmtSignature;
  if (sigAlg === TPM_ALG.ECDSA) {
    const hashAlg = r.u16('hash');
    const rr = r.tpm2b(MAX_ECC_PARAM, 'signatureR');
    const ss = r.tpm2b(MAX_ECC_PARAM, 'signatureS');
    if (rr.length === 0 || ss.length === 0) throw r.fail('empty ECDSA r or s');
    sig = { sigAlg: 'ecdsa', hashAlg, hash: tpmHashName(hashAlg), r: rr, s: ss };
  } else if (sigAlg === TPM_ALG.RSASSA || sigAlg === TPM_ALG.RSAPSS) {
    const hashAlg = r.u16('hash');
    const signature = r.tpm2b(MAX_RSA_SIGNATURE, 'sig');
    if (signature.length === 0) throw r.fail('empty RSA signature');
    sig = { sigAlg: sigAlg === TPM_ALG.RSASSA ? 'rsassa' : 'rsapss', hashAlg, hash: tpmHashName(hashAlg), signature };
  } else {
    throw invalid('tpm-signature-unsupported', `TPMT_SIGNATURE: signature algorithm 0x${sigAlg.toString(16)} is not ECDSA, RSASSA or RSAPSS`);
  }
  r.end();
  return sig;
}
