/**
 * Appraisal of a TCG PC Client event log sent as evidence (EAT `boot.tcgEventLog`), in order:
 *  1. the log parses (a refused log is a contraindicated result with the parser's reason);
 *  2. the TPM quote verifies with the device's AK and carries the nonce (tpm-quote.verifier);
 *  3. every bank the quote selects is replayed from the log, and the quoted PCR digest equals
 *     H(selected PCR values, bank by bank, PCR by PCR): the log is what the TPM measured;
 *     every PCR the log extends must be quoted, else those events are not backed by the TPM;
 *  4. the golden state of the release and/or the product's measured-boot policy.
 * Pure: the caller supplies the records; findings carry the AR4SI claim and value to set.
 */
import { hash as oneShotHash } from 'node:crypto';
import { isDomainError } from '@fleetguard/common';
import { compareWithGoldenState, evaluateMeasuredBootPolicy, GoldenBootState, MeasuredBootFinding, MeasuredBootPolicy } from './measured-boot.policy';
import { PublicKeyInput } from './public-key';
import { initialPcr, parseTcgEventLog, replayTcgEventLog, TcgEventLog, TcgPcrBanks } from './tcg-event-log.parser';
import { EV } from './tcg-event.decoders';
import { tpmHashName } from './tpm-attest.parser';
import { verifyTpmQuote } from './tpm-quote.verifier';
import { AR4SI, TrustClaim } from './trust-vector';

export interface TcgBootFinding {
  stage: 'event-log' | 'tpm-quote' | 'measured-boot' | 'ima';
  code: string;
  claim: TrustClaim;
  value: number;
  message: string;
  event?: number;
  /** IMA findings: the entry's position in the device's measurement list. */
  entry?: number;
}

export interface TcgBootAppraisalInput {
  log: Buffer;
  tpm: { quote: Buffer; signature: Buffer } | null;
  akPublicKey: PublicKeyInput | null;
  expectedNonce: Uint8Array;
  golden: GoldenBootState | null;
  policy: MeasuredBootPolicy | null;
  /**
   * PCR values measured outside the boot log, by bank (e.g. PCR 10 replayed from the IMA list):
   * the quote's digest is computed with them for those PCRs.
   */
  extraPcrs?: TcgPcrBanks;
}

export interface TcgBootAppraisal {
  findings: TcgBootFinding[];
  log: TcgEventLog | null;
  replayed: TcgPcrBanks | null;
  /** `bank:pcr,pcr` per quoted bank, once the quote verified. */
  quoted: { bank: string; pcrs: number[] }[] | null;
  /** The quote verified and matched the log, and the golden state / policy found nothing. */
  bootApproved: boolean;
  /** The quote verified and its digest matched (with extraPcrs): PCRs in it are TPM-backed. */
  quoteMatched: boolean;
}

const EX = AR4SI.executables;
const HW = AR4SI.hardware;

export function appraiseTcgBoot(input: TcgBootAppraisalInput): TcgBootAppraisal {
  const findings: TcgBootFinding[] = [];
  const out: TcgBootAppraisal = { findings, log: null, replayed: null, quoted: null, bootApproved: false, quoteMatched: false };

  let log: TcgEventLog;
  try {
    log = parseTcgEventLog(input.log);
  } catch (e) {
    if (!isDomainError(e)) throw e;
    findings.push({ stage: 'event-log', code: e.code, claim: 'executables', value: EX.CONTRAINDICATED_RUNTIME, message: `the TCG event log is refused: ${e.message}` });
    return out;
  }
  out.log = log;
  const replayed = replayTcgEventLog(log);
  out.replayed = replayed;

  const quoteOk = checkQuote(input, log, replayed, out);
  const measured = [
    ...(input.golden ? compareWithGoldenState(log, input.golden) : []),
    ...(input.policy ? evaluateMeasuredBootPolicy(log, input.policy) : []),
  ];
  for (const f of measured) findings.push(toFinding(f));
  if (!input.golden && !input.policy) {
    findings.push({ stage: 'measured-boot', code: 'measured-boot-reference-missing', claim: 'executables', value: EX.UNRECOGNIZED_RUNTIME, message: 'the boot log was not compared with anything: the release has no golden state and the product no measured-boot policy' });
  }
  out.bootApproved = quoteOk && measured.length === 0 && !!(input.golden || input.policy);
  return out;
}

function toFinding(f: MeasuredBootFinding): TcgBootFinding {
  return { stage: 'measured-boot', code: f.code, claim: 'executables', value: EX.CONTRAINDICATED_RUNTIME, message: f.message, ...(f.event !== undefined ? { event: f.event } : {}) };
}

function checkQuote(input: TcgBootAppraisalInput, log: TcgEventLog, replayed: TcgPcrBanks, out: TcgBootAppraisal): boolean {
  const findings = out.findings;
  if (!input.tpm) {
    findings.push({ stage: 'tpm-quote', code: 'tpm-quote-required', claim: 'executables', value: EX.CONTRAINDICATED_RUNTIME, message: 'a TCG event log was sent without a TPM quote: nothing shows the TPM measured it' });
    return false;
  }
  if (!input.akPublicKey) {
    findings.push({ stage: 'tpm-quote', code: 'tpm-ak-unregistered', claim: 'hardware', value: HW.UNSAFE, message: 'the evidence carries a TPM quote but the device has no registered attestation key, so the quote cannot be checked' });
    findings.push({ stage: 'tpm-quote', code: 'tcg-log-unverified', claim: 'executables', value: EX.UNRECOGNIZED_RUNTIME, message: 'the TCG event log cannot be tied to the TPM without a verified quote' });
    return false;
  }
  // Signature, structure and nonce: the existing verifier. Its single-bank PCR check is replaced
  // below by the per-bank one a multi-bank TCG log needs.
  const check = verifyTpmQuote({ quote: input.tpm.quote, signature: input.tpm.signature, akPublicKey: input.akPublicKey, expectedNonce: input.expectedNonce, pcrs: replayed.sha256 ?? {} });
  const fatal = check.failures.filter((f) => f.check === 'structure' || f.check === 'signature' || f.check === 'nonce');
  for (const f of fatal) findings.push({ stage: 'tpm-quote', code: f.code, claim: 'hardware', value: AR4SI.CRYPTO_VALIDATION_FAILED, message: f.message });
  if (fatal.length || !check.attest || !check.signature?.hash) return false;

  const selections = check.attest.quote.pcrSelections.filter((s) => s.pcrs.length > 0);
  out.quoted = selections.map((s) => ({ bank: tpmHashName(s.hashAlg) ?? `alg_0x${s.hashAlg.toString(16)}`, pcrs: s.pcrs }));
  if (selections.length === 0) {
    findings.push({ stage: 'tpm-quote', code: 'tpm-pcr-not-quoted', claim: 'executables', value: EX.CONTRAINDICATED_RUNTIME, message: 'the TPM quote selects no PCR' });
    return false;
  }
  const h: Buffer[] = [];
  for (const s of selections) {
    const bank = tpmHashName(s.hashAlg);
    const values = bank ? replayed[bank] : undefined;
    if (!bank || !values) {
      findings.push({ stage: 'tpm-quote', code: 'tpm-pcr-bank-not-in-log', claim: 'executables', value: EX.CONTRAINDICATED_RUNTIME, message: `the TPM quote selects the ${bank ?? `0x${s.hashAlg.toString(16)}`} bank, which the event log does not carry (it has ${Object.keys(replayed).join(', ')})` });
      return false;
    }
    for (const pcr of s.pcrs) {
      if (pcr > 23) {
        findings.push({ stage: 'tpm-quote', code: 'tpm-pcr-out-of-range', claim: 'hardware', value: AR4SI.CRYPTO_VALIDATION_FAILED, message: `TPM quote selects PCR ${pcr}, beyond PCR 23` });
        return false;
      }
      h.push(Buffer.from(input.extraPcrs?.[bank]?.[String(pcr)] ?? values[String(pcr)] ?? initialPcr(log, bank, pcr), 'hex'));
    }
  }
  const digest = oneShotHash(check.signature.hash, Buffer.concat(h), 'buffer');
  const described = out.quoted.map((q) => `${q.bank}:${q.pcrs.join(',')}`).join(' ');
  if (!digest.equals(check.attest.quote.pcrDigest)) {
    findings.push({
      stage: 'tpm-quote',
      code: 'tpm-pcr-digest-mismatch',
      claim: 'executables',
      value: EX.CONTRAINDICATED_RUNTIME,
      message: `the TPM quote's PCR digest over ${described} is ${check.attest.quote.pcrDigest.toString('hex').slice(0, 16)}.. but the event log replays to ${digest.toString('hex').slice(0, 16)}..: the log is not what the TPM measured`,
    });
    return false;
  }
  out.quoteMatched = true;
  // Every PCR the log extends must be quoted in some bank, else those events are not backed.
  const quotedPcrs = new Set(selections.flatMap((s) => s.pcrs));
  const unquoted = [...new Set(log.events.filter((e) => e.type !== EV.NO_ACTION).map((e) => e.pcr))].filter((p) => !quotedPcrs.has(p)).sort((a, b) => a - b);
  if (unquoted.length) {
    findings.push({ stage: 'tpm-quote', code: 'tpm-pcr-not-quoted', claim: 'hardware', value: HW.UNSAFE, message: `the TPM quote does not cover PCR ${unquoted.join(', ')}, which the event log extends: those events are not backed by the TPM` });
  }
  return true;
}
