import { constants, createHash, KeyObject, verify } from 'node:crypto';
import { isDomainError } from '@fleetguard/common';
import { ZERO_PCR } from './digest';
import { isPcrIndex, PcrValues } from './event-log.replay';
import { ecFieldBytes, PublicKeyInput, toPublicKey } from './public-key';
import { parseTpmsAttest, parseTpmtSignature, TpmHashName, TpmsAttest, TpmtSignature } from './tpm-attest.parser';

export interface TpmQuoteInput {
  /** Marshalled TPMS_ATTEST (`tpm2_quote -m`). */
  quote: Uint8Array;
  /**
   * The quote signature as `tpm2_quote -s` writes it: its default format, a marshalled
   * TPMT_SIGNATURE (algorithm and hash named inside), or `-f plain`: a DER ECDSA-Sig-Value for
   * an EC AK, the raw signature (modulus-sized) for an RSA AK. A plain signature names no hash:
   * SHA-256, SHA-384 and SHA-512 are tried, and the one that verifies is the quote's hash.
   */
  signature: Uint8Array;
  /** The device's attestation key (registered at enrollment). */
  akPublicKey: PublicKeyInput;
  /** The verifier's nonce bytes: the TPM must have quoted them as extraData (see decodeNonce). */
  expectedNonce: Uint8Array;
  /** PCR values the quote must match: the replayed event log. Absent PCRs count as zeros. */
  pcrs: PcrValues;
  /** PCRs the quote must cover (those the event log measures); missing ones are a failure. */
  requiredPcrs?: readonly number[];
}

export type TpmQuoteCheck = 'structure' | 'signature' | 'nonce' | 'pcr-selection' | 'pcr-digest';

export interface TpmQuoteFailure {
  check: TpmQuoteCheck;
  code: string;
  message: string;
}

export interface TpmQuoteVerification {
  ok: boolean;
  failures: TpmQuoteFailure[];
  attest?: TpmsAttest;
  signature?: TpmtSignature;
  /** Which `tpm2_quote -f` format the signature came in. */
  signatureFormat?: 'tpmt' | 'plain';
  /** SHA-256 PCRs the quote covers, in the order the TPM hashed them. */
  quotedPcrs?: number[];
}

const ACCEPTED_HASHES: readonly TpmHashName[] = ['sha256', 'sha384', 'sha512'];

/**
 * Verifies a TPM 2.0 quote: (1) the AK signed the TPMS_ATTEST bytes (hash named in the
 * signature); (2) extraData is the verifier's nonce; (3) the PCR selection, read from the quote
 * itself, is a SHA-256 bank covering the required PCRs; (4) pcrDigest equals H(concatenation of
 * the selected PCR values, in selection order) computed from `pcrs`, H being the signing hash.
 * Checks after a failed signature are skipped: an unauthenticated quote says nothing.
 * Not checked: qualifiedSigner against the AK's TPM name (we hold the AK as SPKI, not TPMT_PUBLIC),
 * clockInfo (resets are not a trust signal here).
 */
export function verifyTpmQuote(input: TpmQuoteInput): TpmQuoteVerification {
  const failures: TpmQuoteFailure[] = [];
  const fail = (check: TpmQuoteCheck, code: string, message: string): TpmQuoteVerification => {
    failures.push({ check, code, message });
    return { ok: false, failures };
  };

  let attest: TpmsAttest;
  let sig: TpmtSignature | null = null;
  let ak: KeyObject;
  const signatureBytes = Buffer.from(input.signature);
  try {
    attest = parseTpmsAttest(input.quote);
    ak = toPublicKey(input.akPublicKey, 'tpm-ak-invalid');
    if (!isPlainSignature(signatureBytes, ak)) sig = parseTpmtSignature(signatureBytes);
  } catch (e) {
    if (isDomainError(e)) return fail('structure', e.code, e.message);
    throw e;
  }

  let hash: TpmHashName;
  if (sig) {
    if (!sig.hash || !ACCEPTED_HASHES.includes(sig.hash)) {
      return fail('signature', 'tpm-signature-hash-unsupported', `quote signature hash 0x${sig.hashAlg.toString(16)} is not SHA-256, SHA-384 or SHA-512`);
    }
    hash = sig.hash;
    const signatureError = checkSignature(sig, sig.hash, ak, Buffer.from(input.quote));
    if (signatureError) return fail('signature', signatureError.code, signatureError.message);
  } else {
    const verified = checkPlainSignature(signatureBytes, ak, Buffer.from(input.quote));
    if (!verified) return fail('signature', 'tpm-signature-invalid', 'TPM quote signature (tpm2_quote -f plain) does not verify with the device attestation key under SHA-256, SHA-384 or SHA-512');
    hash = verified;
  }

  const result: TpmQuoteVerification = { ok: false, failures, attest, ...(sig ? { signature: sig } : {}), signatureFormat: sig ? 'tpmt' : 'plain' };

  if (!attest.extraData.equals(Buffer.from(input.expectedNonce))) {
    failures.push({
      check: 'nonce',
      code: 'tpm-nonce-mismatch',
      message: `TPM quote extraData ${attest.extraData.toString('hex') || '(empty)'} is not the nonce of this challenge`,
    });
  }

  const banks = attest.quote.pcrSelections.filter((b) => b.pcrs.length > 0);
  const foreign = banks.filter((b) => b.hash !== 'sha256');
  if (foreign.length > 0 || banks.length !== 1) {
    failures.push({
      check: 'pcr-selection',
      code: 'tpm-pcr-bank-unsupported',
      message: `TPM quote must select exactly one SHA-256 PCR bank (selects ${describeBanks(banks)})`,
    });
    return result;
  }
  const quoted = banks[0].pcrs;
  result.quotedPcrs = quoted;
  const beyond = quoted.filter((p) => !isPcrIndex(p));
  if (beyond.length > 0) {
    failures.push({ check: 'pcr-selection', code: 'tpm-pcr-out-of-range', message: `TPM quote selects PCR ${beyond.join(', ')}, beyond PCR 23` });
    return result;
  }
  const missing = (input.requiredPcrs ?? []).filter((p) => !quoted.includes(p));
  if (missing.length > 0) {
    failures.push({
      check: 'pcr-selection',
      code: 'tpm-pcr-not-quoted',
      message: `TPM quote does not cover PCR ${missing.join(', ')}, which the event log measures`,
    });
  }

  const h = createHash(hash);
  for (const pcr of quoted) h.update(Buffer.from(input.pcrs[String(pcr)] ?? ZERO_PCR, 'hex'));
  const expected = h.digest();
  if (!expected.equals(attest.quote.pcrDigest)) {
    failures.push({
      check: 'pcr-digest',
      code: 'tpm-pcr-digest-mismatch',
      message: `TPM quote PCR digest over PCR ${quoted.join(', ')} is ${attest.quote.pcrDigest.toString('hex').slice(0, 16)}.. but the replayed event log gives ${expected.toString('hex').slice(0, 16)}..`,
    });
  }
  result.ok = failures.length === 0;
  return result;
}

/**
 * `tpm2_quote -f plain`: for an EC AK a DER SEQUENCE (first byte 0x30; a TPMT_SIGNATURE starts
 * with its algorithm, 0x0018 for ECDSA); for an RSA AK exactly the modulus size (a TPMT_SIGNATURE
 * adds 6 bytes of algorithm, hash and size).
 */
function isPlainSignature(bytes: Buffer, ak: KeyObject): boolean {
  if (ak.asymmetricKeyType === 'ec') return bytes.length > 0 && bytes[0] === 0x30;
  if (ak.asymmetricKeyType === 'rsa') return bytes.length === (ak.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  return false;
}

/** The hash under which a plain signature verifies (RSA: PKCS#1 v1.5, then PSS), or null. */
function checkPlainSignature(bytes: Buffer, ak: KeyObject, signed: Buffer): TpmHashName | null {
  for (const hash of ACCEPTED_HASHES) {
    try {
      if (ak.asymmetricKeyType === 'ec') {
        if (verify(hash, signed, { key: ak, dsaEncoding: 'der' }, bytes)) return hash;
      } else {
        if (verify(hash, signed, { key: ak, padding: constants.RSA_PKCS1_PADDING }, bytes)) return hash;
        if (verify(hash, signed, { key: ak, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, bytes)) return hash;
      }
    } catch {
      // a malformed DER signature: not this hash, nor any
    }
  }
  return null;
}

function describeBanks(banks: { hashAlg: number; hash: string | null; pcrs: number[] }[]): string {
  if (banks.length === 0) return 'no PCRs';
  return banks.map((b) => `${b.hash ?? `alg 0x${b.hashAlg.toString(16)}`}:${b.pcrs.join(',')}`).join(' and ');
}

function checkSignature(
  sig: TpmtSignature,
  hash: TpmHashName,
  ak: KeyObject,
  signed: Buffer,
): { code: string; message: string } | null {
  const bad = { code: 'tpm-signature-invalid', message: 'TPM quote signature does not verify with the device attestation key' };
  try {
    if (sig.sigAlg === 'ecdsa') {
      const size = ecFieldBytes(ak);
      if (size === null) return { code: 'tpm-ak-mismatch', message: 'TPM quote is signed with ECDSA but the attestation key is not a P-256/P-384/P-521 key' };
      const r = fixedWidth(sig.r, size);
      const s = fixedWidth(sig.s, size);
      if (!r || !s) return bad;
      return verify(hash, signed, { key: ak, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s])) ? null : bad;
    }
    if (ak.asymmetricKeyType !== 'rsa') {
      return { code: 'tpm-ak-mismatch', message: `TPM quote is signed with ${sig.sigAlg.toUpperCase()} but the attestation key is not an RSA key` };
    }
    const options =
      sig.sigAlg === 'rsassa'
        ? { key: ak, padding: constants.RSA_PKCS1_PADDING }
        : { key: ak, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
    return verify(hash, signed, options, sig.signature) ? null : bad;
  } catch {
    return bad;
  }
}

/** ECDSA r or s as exactly `size` bytes: TPMs may drop leading zeros, never exceed the field. */
function fixedWidth(value: Buffer, size: number): Buffer | null {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const trimmed = value.subarray(start);
  if (trimmed.length > size) return null;
  return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
}
