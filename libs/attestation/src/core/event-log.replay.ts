import { hash } from 'node:crypto';
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

const ZERO_PCR_BYTES = Buffer.from(ZERO_PCR, 'hex');

export function isPcrIndex(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_PCR_INDEX;
}

/** Replays remembered (a fleet's devices report the same few boot logs) and when to start over. */
const REPLAYS = new Map<string, PcrValues>();
const MAX_REPLAYS = 256;
/** Longer logs are replayed every time: their key would cost about what the replay does. */
const MAX_REMEMBERED_EVENTS = 64;

/**
 * Replays a measured-boot event log: every PCR starts at 32 zero bytes and each event does
 * `PCR = SHA256(PCR || digest)`, in log order. Returns only the PCRs the log touches.
 *
 * Pure, so a log already replayed (same PCR indices and digests, in order; checked first) is
 * answered from memory: the appraisal replays every evidence's log, and hashing it was ≈ 3 % of
 * the service's main thread in bench:attest. The caller gets its own copy.
 */
export function replayEventLog(events: readonly BootEvent[]): PcrValues {
  if (!Array.isArray(events)) throw invalid('event-log-invalid', 'event log must be an array');
  if (events.length > MAX_BOOT_EVENTS) {
    throw invalid('event-log-invalid', `event log has more than ${MAX_BOOT_EVENTS} events`);
  }
  events.forEach((event, i) => {
    if (!isPcrIndex(event?.pcr)) {
      throw invalid('event-log-invalid', `event ${i}: pcr must be an integer from 0 to ${MAX_PCR_INDEX}`);
    }
    if (!isSha256Hex(event.digest)) {
      throw invalid('event-log-invalid', `event ${i}: digest must be 64 hex characters`);
    }
  });
  // Unambiguous once checked: an integer index and 64 hex characters per event.
  let key: string | null = null;
  if (events.length <= MAX_REMEMBERED_EVENTS) {
    key = '';
    for (const e of events) key += `${e.pcr}:${e.digest};`;
    const known = REPLAYS.get(key);
    if (known) return { ...known };
  }
  const pcrs = new Map<number, Buffer>();
  for (const event of events) {
    // One-shot hash of the 64 bytes: a Hash object per event cost about twice as much.
    const current = pcrs.get(event.pcr) ?? ZERO_PCR_BYTES;
    pcrs.set(event.pcr, hash('sha256', Buffer.concat([current, Buffer.from(event.digest, 'hex')]), 'buffer'));
  }
  const out: PcrValues = {};
  for (const pcr of [...pcrs.keys()].sort((a, b) => a - b)) out[String(pcr)] = pcrs.get(pcr)!.toString('hex');
  if (key !== null) {
    if (REPLAYS.size >= MAX_REPLAYS) REPLAYS.clear();
    REPLAYS.set(key, { ...out });
  }
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
