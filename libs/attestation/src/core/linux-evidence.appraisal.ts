/**
 * The appraisal stages for evidence from a Linux device: a TCG boot log (`boot.tcgEventLog`)
 * with its TPM quote, then the measured-boot golden state and policy. Called by the appraisal
 * pipeline in place of the Fleetguard event-list stages; kept here so the format code stays out
 * of the pipeline.
 */
import { createHash } from 'node:crypto';
import { isDomainError } from '@fleetguard/common';
import { EvidenceClaims } from './eat-evidence.parser';
import { IMA_PCR, parseImaMeasurementList } from './ima-measurement-list.parser';
import { appraiseImaEntries, IMA_APPROVED, ImaAppraisal, ImaDeviceState, RuntimePolicy } from './ima-runtime.policy';
import { GoldenBootState, MeasuredBootPolicy } from './measured-boot.policy';
import { decodeNonce } from './nonce';
import { PublicKeyInput } from './public-key';
import { appraiseTcgBoot, TcgBootFinding } from './tcg-evidence.appraisal';
import { AR4SI, TrustClaim } from './trust-vector';

/** What the verifier holds to judge a Linux device's measured boot. */
export interface MeasuredBootReference {
  /** Recorded from a known-good log of this release (POST .../reference-values/event-log). */
  golden: GoldenBootState | null;
  /** The product's measured-boot policy (PUT /products/:id/measured-boot-policy). */
  policy: MeasuredBootPolicy | null;
}

/** Optional ports: a verifier without them judges TCG logs against nothing (and says so). */
export interface LinuxAppraisalPorts {
  findMeasuredBoot?(productId: string, version: string): Promise<MeasuredBootReference>;
  /** The product's IMA runtime policy (PUT /products/:id/runtime-policy). */
  findRuntimePolicy?(productId: string): Promise<RuntimePolicy | null>;
  /** The device's running IMA state (entries appraised, PCR 10) for incremental appraisal. */
  loadImaState?(deviceId: string): Promise<ImaDeviceState | null>;
}

export interface LinuxEvidenceSummary {
  tcgEventLog: { events: number; banks: string[]; quoted: { bank: string; pcrs: number[] }[] | null; pcrs: Record<string, Record<string, string>> | null };
  ima?: { offset: number; entries: number; appraised: number; pcr10: { sha1: string; sha256: string } | null };
}

export interface LinuxAppraisal {
  findings: TcgBootFinding[];
  /** Claims to raise to a good value when nothing worse was found. */
  sets: [TrustClaim, number][];
  /** The sha256 bank of the replay (what the pipeline reports as replayed PCRs). */
  replayedSha256: Record<string, string> | null;
  summary: LinuxEvidenceSummary;
  /** The device's IMA state to store: set only when the quote confirmed the new PCR 10. */
  imaState: ImaDeviceState | null;
}

export async function appraiseLinuxEvidence(
  input: { deviceId: string; productId: string; version: string; akPublicKey: PublicKeyInput | null; claims: EvidenceClaims },
  ports: LinuxAppraisalPorts,
): Promise<LinuxAppraisal> {
  const reference = ports.findMeasuredBoot ? await ports.findMeasuredBoot(input.productId, input.version) : { golden: null, policy: null };
  const findings: TcgBootFinding[] = [];
  const sets: [TrustClaim, number][] = [];

  /* IMA first: its PCR 10 goes into the quote check */
  let ima: ImaAppraisal | null = null;
  let imaEntries = 0;
  if (input.claims.ima) {
    try {
      const entries = parseImaMeasurementList(input.claims.ima.log);
      imaEntries = entries.length;
      ima = appraiseImaEntries({
        entries,
        offset: input.claims.ima.offset,
        bootLogSha256: createHash('sha256').update(input.claims.tcgEventLog!).digest('hex'),
        state: ports.loadImaState ? await ports.loadImaState(input.deviceId) : null,
        policy: ports.findRuntimePolicy ? await ports.findRuntimePolicy(input.productId) : null,
      });
    } catch (e) {
      if (!isDomainError(e)) throw e;
      findings.push({ stage: 'ima', code: e.code, claim: 'file-system', value: AR4SI.fileSystem.CONTRAINDICATED, message: `the IMA measurement list is refused: ${e.message}` });
    }
  }
  const boot = appraiseTcgBoot({
    log: input.claims.tcgEventLog!,
    tpm: input.claims.tpm ?? null,
    akPublicKey: input.akPublicKey,
    expectedNonce: decodeNonce(input.claims.eatNonce),
    golden: reference.golden,
    policy: reference.policy,
    ...(ima?.pcr10 ? { extraPcrs: { sha1: { [IMA_PCR]: ima.pcr10.sha1 }, sha256: { [IMA_PCR]: ima.pcr10.sha256 } } } : {}),
  });
  findings.push(...boot.findings);

  let imaState: ImaDeviceState | null = null;
  if (ima) {
    for (const f of ima.findings) findings.push({ stage: 'ima', ...f });
    const pcr10Quoted = boot.quoted?.some((q) => q.pcrs.includes(IMA_PCR)) ?? false;
    if (ima.pcr10 && boot.quoteMatched && !pcr10Quoted) {
      findings.push({ stage: 'ima', code: 'ima-pcr10-not-quoted', claim: 'file-system', value: AR4SI.fileSystem.UNRECOGNIZED, message: 'IMA entries were sent but the TPM quote does not cover PCR 10, so nothing shows the TPM measured them' });
    } else if (ima.pcr10 && boot.quoteMatched) {
      imaState = ima.next;
      if (ima.findings.length === 0) {
        sets.push(['file-system', IMA_APPROVED.fileSystem]);
        if (boot.bootApproved) sets.push(['executables', IMA_APPROVED.executables]);
      }
    }
  }
  if (boot.bootApproved) sets.push(['executables', AR4SI.executables.APPROVED_BOOT]);
  return {
    findings,
    imaState,
    sets,
    replayedSha256: boot.replayed?.sha256 ?? null,
    summary: {
      tcgEventLog: {
        events: boot.log?.events.length ?? 0,
        banks: boot.log?.specId.algorithms.map((a) => a.name) ?? [],
        quoted: boot.quoted,
        pcrs: boot.replayed,
      },
      ...(input.claims.ima ? { ima: { offset: input.claims.ima.offset, entries: imaEntries, appraised: ima?.appraised ?? 0, pcr10: ima?.pcr10 ?? null } } : {}),
    },
  };
}
