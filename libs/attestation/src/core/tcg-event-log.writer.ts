/**
 * Writes a crypto-agile TCG event log: the inverse of parseTcgEventLog. Used by device-sim (a
 * Linux device re-emits the log it booted, possibly with one event altered) and by tests that
 * need logs real machines do not give us (a StartupLocality event, sha384 banks).
 */
import { createHash } from 'node:crypto';
import { TcgAlgorithm, TcgEventLog, TCG_HASHES } from './tcg-event-log.parser';
import { EV } from './tcg-event.decoders';

export interface TcgEventInput {
  pcr: number;
  type: number;
  data: Buffer;
  /** Per bank name; a missing bank gets H(data) (or zeros for EV_NO_ACTION). */
  digests?: Record<string, string>;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};

const NODE_HASH: Record<string, string> = { sm3_256: 'sm3' };

export function algorithmsFor(names: readonly string[]): TcgAlgorithm[] {
  return names.map((name) => {
    const entry = Object.entries(TCG_HASHES).find(([, h]) => h.name === name);
    if (!entry) throw new RangeError(`unknown bank ${name}`);
    return { algId: Number(entry[0]), name, digestSize: entry[1].size };
  });
}

/** The Spec ID Event03 header record (SHA-1 format). */
export function specIdRecord(algorithms: readonly TcgAlgorithm[]): Buffer {
  const body = Buffer.concat([
    Buffer.from('Spec ID Event03\0', 'latin1'),
    u32(0),
    Buffer.from([0, 2, 0, 2]), // minor 0, major 2, errata 0, uintnSize 2
    u32(algorithms.length),
    ...algorithms.map((a) => Buffer.concat([u16(a.algId), u16(a.digestSize)])),
    Buffer.from([0]),
  ]);
  return Buffer.concat([u32(0), u32(EV.NO_ACTION), Buffer.alloc(20), u32(body.length), body]);
}

export function eventRecord(algorithms: readonly TcgAlgorithm[], event: TcgEventInput): Buffer {
  const digests = algorithms.map((a) => {
    const given = event.digests?.[a.name];
    const digest = given !== undefined ? Buffer.from(given, 'hex') : event.type === EV.NO_ACTION ? Buffer.alloc(a.digestSize) : createHash(NODE_HASH[a.name] ?? a.name).update(event.data).digest();
    return Buffer.concat([u16(a.algId), digest]);
  });
  return Buffer.concat([u32(event.pcr), u32(event.type), u32(algorithms.length), ...digests, u32(event.data.length), event.data]);
}

/** The StartupLocality EV_NO_ACTION event data for `locality`. */
export function startupLocalityData(locality: number): Buffer {
  return Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([locality])]);
}

export function writeTcgEventLog(banks: readonly string[], events: readonly TcgEventInput[]): Buffer {
  const algorithms = algorithmsFor(banks);
  return Buffer.concat([specIdRecord(algorithms), ...events.map((e) => eventRecord(algorithms, e))]);
}

/** Re-serializes a parsed log (with its events as they now are). */
export function rewriteTcgEventLog(log: TcgEventLog): Buffer {
  const algorithms = log.specId.algorithms;
  return Buffer.concat([specIdRecord(algorithms), ...log.events.map((e) => eventRecord(algorithms, e))]);
}
