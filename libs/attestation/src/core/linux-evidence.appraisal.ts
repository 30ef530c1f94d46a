/**
 * The appraisal stages for evidence from a Linux device: a TCG boot log (`boot.tcgEventLog`)
 * with its TPM quote, then the measured-boot golden state and policy. Called by the appraisal
 * pipeline in place of the Fleetguard event-list stages; kept here so the format code stays out
 * of the pipeline.
 */
import { EvidenceClaims } from './eat-evidence.parser';
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
}

export interface LinuxEvidenceSummary {
  tcgEventLog: { events: number; banks: string[]; quoted: { bank: string; pcrs: number[] }[] | null; pcrs: Record<string, Record<string, string>> | null };
}

export interface LinuxAppraisal {
  findings: TcgBootFinding[];
  /** Claims to raise to a good value when nothing worse was found. */
  sets: [TrustClaim, number][];
  /** The sha256 bank of the replay (what the pipeline reports as replayed PCRs). */
  replayedSha256: Record<string, string> | null;
  summary: LinuxEvidenceSummary;
}

export async function appraiseLinuxEvidence(
  input: { productId: string; version: string; akPublicKey: PublicKeyInput | null; claims: EvidenceClaims },
  ports: LinuxAppraisalPorts,
): Promise<LinuxAppraisal> {
  const reference = ports.findMeasuredBoot ? await ports.findMeasuredBoot(input.productId, input.version) : { golden: null, policy: null };
  const boot = appraiseTcgBoot({
    log: input.claims.tcgEventLog!,
    tpm: input.claims.tpm ?? null,
    akPublicKey: input.akPublicKey,
    expectedNonce: decodeNonce(input.claims.eatNonce),
    golden: reference.golden,
    policy: reference.policy,
  });
  const sets: [TrustClaim, number][] = [];
  if (boot.bootApproved) sets.push(['executables', AR4SI.executables.APPROVED_BOOT]);
  return {
    findings: boot.findings,
    sets,
    replayedSha256: boot.replayed?.sha256 ?? null,
    summary: {
      tcgEventLog: {
        events: boot.log?.events.length ?? 0,
        banks: boot.log?.specId.algorithms.map((a) => a.name) ?? [],
        quoted: boot.quoted,
        pcrs: boot.replayed,
      },
    },
  };
}
