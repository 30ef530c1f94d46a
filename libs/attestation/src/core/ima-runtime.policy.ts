/**
 * IMA runtime policy: Keylime's runtime policy v1 (keylime/ima: `meta.version` 1, `digests`
 * path -> allowed hex digests, `excludes` regular expressions matched from the start of the
 * path, other keys accepted and ignored), and the incremental appraisal of IMA entries:
 * the verifier keeps per device the number of entries appraised and the running PCR 10 of
 * this boot; a device sends only the entries after `offset`.
 */
import { z } from 'zod';
import { invalid } from '@fleetguard/common';
import { ImaEntry, ImaPcr10, replayImaPcr10, ZERO_IMA_PCR10 } from './ima-measurement-list.parser';

export interface RuntimePolicy {
  /** Path to allowed file digests (lowercase hex, any algorithm the list uses). */
  digests: Record<string, string[]>;
  excludes: string[];
}

const MAX_PATHS = 1_000_000;
const regex = z
  .string()
  .max(4096)
  .refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be a regular expression');

const keylimeRuntimePolicy = z.looseObject({
  meta: z.looseObject({ version: z.literal(1) }).optional(),
  digests: z.record(z.string().min(1).max(4096), z.array(z.string().regex(/^[0-9a-fA-F]{32,128}$/, 'must be a hex digest')).max(64)),
  excludes: z.array(regex).max(10_000).default([]),
});

/** Reads a Keylime runtime policy v1. Throws DomainError `runtime-policy-invalid` naming the field. */
export function parseRuntimePolicy(json: unknown): RuntimePolicy {
  const r = keylimeRuntimePolicy.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(policy)'}: ${i.message}`);
    throw invalid('runtime-policy-invalid', `runtime policy is invalid: ${issues.slice(0, 5).join('; ')}`, { issues });
  }
  if (Object.keys(r.data.digests).length > MAX_PATHS) throw invalid('runtime-policy-invalid', `runtime policy lists more than ${MAX_PATHS} paths`);
  const digests: Record<string, string[]> = {};
  for (const [path, list] of Object.entries(r.data.digests)) digests[path] = list.map((d) => d.toLowerCase());
  return { digests, excludes: r.data.excludes };
}

/** The verifier's running IMA state of one device for the current boot. */
export interface ImaDeviceState {
  /** SHA-256 of the TCG boot log of the boot these entries belong to (a new log = a reboot). */
  bootLogSha256: string;
  /** Entries appraised so far (the next expected offset). */
  entries: number;
  pcr10: ImaPcr10;
}

export interface ImaFinding {
  code: string;
  claim: 'executables' | 'file-system';
  value: number;
  message: string;
  /** The entry's position in the device's whole measurement list, when the finding is about one. */
  entry?: number;
}

export interface ImaAppraisal {
  findings: ImaFinding[];
  /** Entries of this evidence that were new (after what the verifier had). */
  appraised: number;
  /** PCR 10 after these entries (to compare with the quote), or null when it cannot be known. */
  pcr10: ImaPcr10 | null;
  /** The state to keep if the quote confirms pcr10. */
  next: ImaDeviceState | null;
}

const FS = { APPROVED: 2, UNRECOGNIZED: 32, CONTRAINDICATED: 96 };
const EX = { APPROVED_RUNTIME: 2, UNRECOGNIZED: 33, CONTRAINDICATED: 96 };

/**
 * Appraises IMA entries sent from `offset`. With a state for the same boot, entries before
 * state.entries were appraised already and are skipped (resending is harmless); a gap
 * (offset beyond state.entries) cannot be replayed. Without a state for this boot, the list
 * must start at offset 0. The policy judges only the new entries.
 */
export function appraiseImaEntries(input: {
  entries: readonly ImaEntry[];
  offset: number;
  bootLogSha256: string;
  state: ImaDeviceState | null;
  policy: RuntimePolicy | null;
}): ImaAppraisal {
  const findings: ImaFinding[] = [];
  const sameBoot = input.state && input.state.bootLogSha256 === input.bootLogSha256 ? input.state : null;
  const knownEntries = sameBoot?.entries ?? 0;
  if (input.offset > knownEntries) {
    const message = sameBoot
      ? `the IMA list starts at entry ${input.offset} but the verifier has appraised ${knownEntries} entries of this boot: entries ${knownEntries}..${input.offset - 1} are missing; send from offset ${knownEntries}`
      : `the IMA list starts at entry ${input.offset} but the verifier holds no running PCR 10 for this boot (first appraisal, or the boot log changed): send the whole list, from offset 0`;
    findings.push({ code: sameBoot ? 'ima-offset-gap' : 'ima-state-unknown', claim: 'file-system', value: FS.UNRECOGNIZED, message });
    return { findings, appraised: 0, pcr10: null, next: null };
  }
  const fresh = input.entries.slice(knownEntries - input.offset);
  const pcr10 = replayImaPcr10(fresh, sameBoot?.pcr10 ?? ZERO_IMA_PCR10);
  const next: ImaDeviceState = { bootLogSha256: input.bootLogSha256, entries: input.offset + input.entries.length > knownEntries ? input.offset + input.entries.length : knownEntries, pcr10 };

  if (!input.policy) {
    findings.push({ code: 'runtime-policy-missing', claim: 'file-system', value: FS.UNRECOGNIZED, message: `${fresh.length} IMA entries were not appraised: the product has no runtime policy` });
    return { findings, appraised: fresh.length, pcr10, next };
  }
  const excludes = input.policy.excludes.map((e) => new RegExp(`^(?:${e})`));
  let unknown = 0;
  let changed = 0;
  const MAX_NAMED = 20;
  for (const e of fresh) {
    const position = input.offset + e.line;
    if (e.violation) {
      findings.push({ code: 'ima-violation', claim: 'file-system', value: FS.UNRECOGNIZED, entry: position, message: `IMA entry ${position} (${e.path}) is a measurement violation (file changed while open, or opened for write while measured)` });
      continue;
    }
    if (excludes.some((x) => x.test(e.path))) continue;
    const allowed = input.policy.digests[e.path];
    if (!allowed) {
      if (e.path === 'boot_aggregate') continue; // judged only when the policy lists it
      if (++unknown <= MAX_NAMED) findings.push({ code: 'ima-file-unknown', claim: 'file-system', value: FS.UNRECOGNIZED, entry: position, message: `IMA entry ${position}: file ${e.path} is not in the runtime policy (${e.alg}:${e.digest.slice(0, 16)}..)` });
      continue;
    }
    if (!allowed.includes(e.digest)) {
      if (++changed <= MAX_NAMED) findings.push({ code: 'ima-digest-mismatch', claim: 'executables', value: EX.CONTRAINDICATED, entry: position, message: `IMA entry ${position}: file ${e.path} measured ${e.alg}:${e.digest.slice(0, 16)}.., which the runtime policy does not allow for it` });
    }
  }
  if (unknown > MAX_NAMED) findings.push({ code: 'ima-file-unknown', claim: 'file-system', value: FS.UNRECOGNIZED, message: `${unknown - MAX_NAMED} more files are not in the runtime policy` });
  if (changed > MAX_NAMED) findings.push({ code: 'ima-digest-mismatch', claim: 'executables', value: EX.CONTRAINDICATED, message: `${changed - MAX_NAMED} more files have digests the runtime policy does not allow` });
  if (changed) findings.push({ code: 'ima-file-system-contraindicated', claim: 'file-system', value: FS.CONTRAINDICATED, message: `${changed} measured file(s) differ from the runtime policy` });
  if (unknown) findings.push({ code: 'ima-executables-unrecognized', claim: 'executables', value: EX.UNRECOGNIZED, message: `${unknown} measured file(s) are not recognized by the runtime policy` });
  return { findings, appraised: fresh.length, pcr10, next };
}

export const IMA_APPROVED = { fileSystem: FS.APPROVED, executables: EX.APPROVED_RUNTIME };
