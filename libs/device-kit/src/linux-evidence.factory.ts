import { createHash, KeyObject, sign } from 'node:crypto';
import { ecFieldBytes, initialPcr, parseTcgEventLog, replayTcgEventLog, TcgEventLog, TcgPcrBanks, TcgEventInput, writeTcgEventLog, TPM_ALG } from '@fleetguard/attestation';
import { marshalEcdsaSignature, marshalTpmsAttestQuote } from './tpm-quote.factory';

/**
 * Helpers for Linux-device evidence in tests, benchmarks and the device simulator: alter one
 * event of a real log (digests changed in every bank, as firmware measuring another image
 * would), and a software quote over several banks (the swtpm end-to-end test uses a real TPM).
 */

const ALG_IDS: Record<string, number> = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 };

export interface PcrSelection {
  bank: string;
  pcrs: number[];
}

/** The log's events as writer input, with `change` applied to some of them. */
export function tcgEventInputs(log: TcgEventLog, change?: (e: TcgEventInput, index: number) => TcgEventInput): TcgEventInput[] {
  return log.events.map((e) => {
    const input: TcgEventInput = { pcr: e.pcr, type: e.type, data: e.data, digests: { ...e.digests } };
    return change ? change(input, e.index) : input;
  });
}

/** The log with event `index` measuring something else: every bank's digest is H(`seed`). */
export function alterTcgEvent(bytes: Buffer, index: number, seed = 'another image'): Buffer {
  const log = parseTcgEventLog(bytes);
  const banks = log.specId.algorithms.map((a) => a.name);
  return writeTcgEventLog(
    banks,
    tcgEventInputs(log, (e, i) => (i === index ? { ...e, digests: Object.fromEntries(banks.map((b) => [b, createHash(b).update(seed).digest('hex')])) } : e)),
  );
}

/** A quote over `selection` of the PCR values `pcrs` (per bank), signed with an EC AK, as a TPM makes it. */
export function softwareTcgQuote(akPrivateKey: KeyObject, nonce: Uint8Array, log: TcgEventLog, selection: PcrSelection[], pcrs: TcgPcrBanks = replayTcgEventLog(log)): { quote: Buffer; signature: Buffer } {
  const values: Buffer[] = [];
  for (const s of selection) for (const p of [...s.pcrs].sort((a, b) => a - b)) values.push(Buffer.from(pcrs[s.bank]?.[String(p)] ?? initialPcr(log, s.bank, p), 'hex'));
  const digest = createHash('sha256').update(Buffer.concat(values)).digest();
  const quote = marshalTpmsAttestQuote({ extraData: nonce, banks: selection.map((s) => ({ hashAlg: ALG_IDS[s.bank], pcrs: [...s.pcrs].sort((a, b) => a - b) })), pcrDigest: digest });
  const size = ecFieldBytes(akPrivateKey)!;
  const raw = sign('sha256', quote, { key: akPrivateKey, dsaEncoding: 'ieee-p1363' });
  return { quote, signature: marshalEcdsaSignature(TPM_ALG.SHA256, raw.subarray(0, size), raw.subarray(size)) };
}

/** PCRs 0-9 and 14 in sha1 and sha256: what a Linux attester (and Keylime) quotes for measured boot. */
export const LINUX_BOOT_SELECTION: PcrSelection[] = [
  { bank: 'sha1', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14] },
  { bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14] },
];
