import { createHash } from 'node:crypto';
import { invalid } from '@fleetguard/common';
import { isSha256Hex, ZERO_PCR } from './digest';

/** One measured boot event: `component` was hashed to `digest` and extended into PCR `pcr`. */
export interface BootEvent {
  pcr: number;
  component: string;
  /** SHA-256, 64 hex characters. */
  digest: string;
}

/** PCR index (decimal string, "0".."23") to value (64 lowercase hex characters). */
export type PcrValues = Record<string, string>;

export const MAX_PCR_INDEX = 23;
export const MAX_BOOT_EVENTS = 512;

export function isPcrIndex(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_PCR_INDEX;
}

/**
 * Replays a measured-boot event log: every PCR starts at 32 zero bytes and each event does
 * `PCR = SHA256(PCR || digest)`, in log order. Returns only the PCRs the log touches.
 */
export function replayEventLog(events: readonly BootEvent[]): PcrValues {
  if (!Array.isArray(events)) throw invalid('event-log-invalid', 'event log must be an array');
  if (events.length > MAX_BOOT_EVENTS) {
    throw invalid('event-log-invalid', `event log has more than ${MAX_BOOT_EVENTS} events`);
  }
  const pcrs = new Map<number, Buffer>();
  events.forEach((event, i) => {
    if (!isPcrIndex(event?.pcr)) {
      throw invalid('event-log-invalid', `event ${i}: pcr must be an integer from 0 to ${MAX_PCR_INDEX}`);
    }
    if (!isSha256Hex(event.digest)) {
      throw invalid('event-log-invalid', `event ${i}: digest must be 64 hex characters`);
    }
    const current = pcrs.get(event.pcr) ?? Buffer.from(ZERO_PCR, 'hex');
    pcrs.set(event.pcr, createHash('sha256').update(current).update(Buffer.from(event.digest, 'hex')).digest());
  });
  const out: PcrValues = {};
  for (const pcr of [...pcrs.keys()].sort((a, b) => a - b)) out[String(pcr)] = pcrs.get(pcr)!.toString('hex');
  return out;
}

export interface PcrMismatch {
  pcr: number;
  /** What the evidence reports; null when it does not report this PCR. */
  reported: string | null;
  /** What the event log replays to (ZERO_PCR for a PCR no event touches). */
  replayed: string;
}

/**
 * Compares reported PCR values with a replay. A PCR the log does not touch must be reported as
 * zeros or not at all; a PCR the log touches must be reported with the replayed value.
 */
export function comparePcrs(reported: PcrValues, replayed: PcrValues): PcrMismatch[] {
  const indexes = new Set([...Object.keys(reported), ...Object.keys(replayed)].map(Number));
  const mismatches: PcrMismatch[] = [];
  for (const pcr of [...indexes].sort((a, b) => a - b)) {
    const want = replayed[String(pcr)] ?? ZERO_PCR;
    const got = reported[String(pcr)];
    if (got === undefined) {
      if (want !== ZERO_PCR) mismatches.push({ pcr, reported: null, replayed: want });
    } else if (got.toLowerCase() !== want) {
      mismatches.push({ pcr, reported: got.toLowerCase(), replayed: want });
    }
  }
  return mismatches;
}
