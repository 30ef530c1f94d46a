/**
 * What the dashboard shows of a Linux device's evidence: the decoded boot events and the IMA
 * entries of one stored result, each with the findings the appraisal recorded against it (by event
 * index and entry position), so an operator sees which event or file failed and why. Read from
 * the evidence as stored (already authenticated when the result was made); nothing is re-appraised.
 */
import { isDomainError } from '@fleetguard/common';
import type { AppraisalFinding } from './appraisal.pipeline';
import { parseEvidenceClaims } from './eat-evidence.parser';
import { parseImaMeasurementList } from './ima-measurement-list.parser';
import { eventLabel } from './measured-boot.policy';
import { parseTcgEventLog } from './tcg-event-log.parser';

/** Entries shown at most (a result may carry a whole boot's IMA list); the rest are counted. */
export const MAX_VIEW_IMA_ENTRIES = 2000;

export interface ViewFinding {
  stage: string;
  code: string;
  message: string;
}

export interface LinuxEvidenceView {
  boot: {
    banks: string[];
    events: Array<{ index: number; pcr: number; type: string; label: string | null; digests: Record<string, string>; findings: ViewFinding[] }>;
    /** Set when the stored log cannot be read (the result's findings say why it was refused). */
    error?: string;
  } | null;
  ima: {
    offset: number;
    total: number;
    /** Entries with a finding always; the others up to MAX_VIEW_IMA_ENTRIES. */
    entries: Array<{ position: number; pcr: number; template: string; path: string; alg: string; digest: string; violation: boolean; findings: ViewFinding[] }>;
    omitted: number;
    error?: string;
  } | null;
  /** Findings of the Linux stages about no one event or entry (quote, policy, counts). */
  findings: ViewFinding[];
}

const LINUX_STAGES = new Set(['event-log', 'tpm-quote', 'measured-boot', 'ima']);

/** Reads the EAT payload of a stored compact JWS (no verification: it was verified when stored). */
export function storedEvidencePayload(evidence: string): unknown {
  const parts = evidence.split('.');
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

export function linuxEvidenceView(evidence: string, findings: readonly AppraisalFinding[]): LinuxEvidenceView | null {
  const payload = storedEvidencePayload(evidence);
  if (!payload) return null;
  let claims;
  try {
    claims = parseEvidenceClaims(payload);
  } catch (e) {
    if (isDomainError(e)) return null;
    throw e;
  }
  if (!claims.tcgEventLog) return null;
  const byEvent = new Map<number, ViewFinding[]>();
  const byEntry = new Map<number, ViewFinding[]>();
  const rest: ViewFinding[] = [];
  for (const f of findings) {
    if (!LINUX_STAGES.has(f.stage)) continue;
    const v = { stage: f.stage, code: f.code, message: f.message };
    if (typeof f.event === 'number') byEvent.set(f.event, [...(byEvent.get(f.event) ?? []), v]);
    else if (typeof f.entry === 'number') byEntry.set(f.entry, [...(byEntry.get(f.entry) ?? []), v]);
    else rest.push(v);
  }

  let boot: LinuxEvidenceView['boot'];
  try {
    const log = parseTcgEventLog(claims.tcgEventLog);
    boot = {
      banks: log.specId.algorithms.map((a) => a.name),
      events: log.events.map((e) => ({ index: e.index, pcr: e.pcr, type: e.typeName, label: eventLabel(e) ?? null, digests: e.digests, findings: byEvent.get(e.index) ?? [] })),
    };
  } catch (e) {
    if (!isDomainError(e)) throw e;
    boot = { banks: [], events: [], error: e.message };
  }

  let ima: LinuxEvidenceView['ima'] = null;
  if (claims.ima) {
    const offset = claims.ima.offset;
    try {
      const entries = parseImaMeasurementList(claims.ima.log);
      const shown: NonNullable<LinuxEvidenceView['ima']>['entries'] = [];
      for (const e of entries) {
        const position = offset + e.line;
        const fs = byEntry.get(position) ?? [];
        if (!fs.length && shown.length >= MAX_VIEW_IMA_ENTRIES) continue;
        shown.push({ position, pcr: e.pcr, template: e.template, path: e.path, alg: e.alg, digest: e.digest, violation: e.violation, findings: fs });
      }
      ima = { offset, total: entries.length, entries: shown, omitted: entries.length - shown.length };
    } catch (e) {
      if (!isDomainError(e)) throw e;
      ima = { offset, total: 0, entries: [], omitted: 0, error: e.message };
    }
  }
  return { boot, ima, findings: rest };
}
