/**
 * TCG PC Client binary event log (TCG PC Client Platform Firmware Profile 1.05, section 10):
 * what Linux exposes at /sys/kernel/security/tpm0/binary_bios_measurements.
 *
 * Layout: one SHA-1 format TCG_PCClientPCREvent carrying the `Spec ID Event03` header (which
 * declares the digest banks and their sizes), then crypto-agile TCG_PCR_EVENT2 records:
 *   u32 pcrIndex, u32 eventType, TPML_DIGEST_VALUES { u32 count, { u16 alg, digest }[count] },
 *   u32 eventSize, event[eventSize]                                        (all little-endian)
 * Every record must carry one digest per declared bank, each bank once. EV_NO_ACTION records
 * are not extended; the `StartupLocality` one sets PCR 0's starting value (last byte = locality).
 *
 * Hand-written: no npm package parses this format (Keylime and tpm2-tools parse it in Python and
 * C). The reader is bounds-checked everywhere; a log that breaks the layout is refused with a
 * DomainError whose code says how (`tcg-log-truncated`, `tcg-log-malformed`, `tcg-log-too-large`,
 * `tcg-log-unsupported`) and whose message names the byte offset and event number.
 */
import { hash as oneShotHash } from 'node:crypto';
import { DomainError } from '@fleetguard/common';
import { DecodedEvent, decodeEventData, EV, eventTypeName } from './tcg-event.decoders';

export const MAX_TCG_LOG_BYTES = 2 * 1024 * 1024;
export const MAX_TCG_EVENTS = 20_000;
export const MAX_TCG_PCR = 23;

/** TPM_ALG_ID of the banks we know, with Node's hash name and the digest size. */
export const TCG_HASHES: Record<number, { name: string; size: number }> = {
  0x0004: { name: 'sha1', size: 20 },
  0x000b: { name: 'sha256', size: 32 },
  0x000c: { name: 'sha384', size: 48 },
  0x000d: { name: 'sha512', size: 64 },
  0x0012: { name: 'sm3_256', size: 32 },
};
const NODE_HASH: Record<string, string> = { sm3_256: 'sm3' };

export interface TcgAlgorithm {
  algId: number;
  /** sha1, sha256, sha384, sha512, sm3_256, or `alg_0x....` for a bank we cannot hash. */
  name: string;
  digestSize: number;
}

export interface TcgSpecId {
  platformClass: number;
  specVersion: string;
  uintnSize: number;
  algorithms: TcgAlgorithm[];
  vendorInfo: string;
}

/**
 * One record. It keeps offsets into the log's bytes; `data`, `digestBytes`, `digests` and
 * `decoded` are made on first use (a replay needs none of them, and the hex of a large db takes
 * longer than the hash), then kept.
 */
export class TcgEvent {
  private hex?: Record<string, string>;
  private dec?: DecodedEvent;
  private bytesOf?: Buffer[];
  private dataOf?: Buffer;
  constructor(
    /** Position in the log, the Spec ID header being event 0 (as tpm2_eventlog numbers them). */
    readonly index: number,
    readonly pcr: number,
    readonly type: number,
    /** The whole log. */
    readonly log: Buffer,
    /** Offset in `log` of each bank's digest, in the header's bank order. */
    readonly digestOffsets: readonly number[],
    readonly banks: readonly TcgAlgorithm[],
    readonly dataOffset: number,
    readonly dataLength: number,
    decoded?: DecodedEvent,
  ) {
    this.dec = decoded;
  }
  get typeName(): string {
    return eventTypeName(this.type);
  }
  /** The event data (a view into the log). */
  get data(): Buffer {
    this.dataOf ??= this.log.subarray(this.dataOffset, this.dataOffset + this.dataLength);
    return this.dataOf;
  }
  /** Digest bytes per bank, in the header's bank order (views into the log). */
  get digestBytes(): readonly Buffer[] {
    this.bytesOf ??= this.banks.map((b, i) => this.log.subarray(this.digestOffsets[i], this.digestOffsets[i] + b.digestSize));
    return this.bytesOf;
  }
  /** Whether bank `k`'s digest equals `want` (no copy, no hex). */
  digestEquals(k: number, want: Uint8Array): boolean {
    const size = this.banks[k].digestSize;
    if (want.length !== size) return false;
    const off = this.digestOffsets[k];
    for (let i = 0; i < size; i++) if (this.log[off + i] !== want[i]) return false;
    return true;
  }
  /** Bank name to lowercase hex digest, one per declared bank. */
  get digests(): Record<string, string> {
    if (!this.hex) {
      const out: Record<string, string> = {};
      this.banks.forEach((b, i) => (out[b.name] = this.log.toString('hex', this.digestOffsets[i], this.digestOffsets[i] + b.digestSize)));
      this.hex = out;
    }
    return this.hex;
  }
  get decoded(): DecodedEvent {
    this.dec ??= decodeEventData(this.type, this.data);
    return this.dec;
  }
  toJSON(): { index: number; pcr: number; type: string; digests: Record<string, string>; decoded: DecodedEvent } {
    return { index: this.index, pcr: this.pcr, type: this.typeName, digests: this.digests, decoded: this.decoded };
  }
}

export interface TcgEventLog {
  specId: TcgSpecId;
  /** From the StartupLocality EV_NO_ACTION event; 0 when there is none. */
  startupLocality: number;
  /** Every record after the header, EV_NO_ACTION ones included. */
  events: TcgEvent[];
}

/** Per bank, PCR index ("0".."23") to value (lowercase hex): only the PCRs the log extends. */
export type TcgPcrBanks = Record<string, Record<string, string>>;

const refuse = (code: string, message: string) => new DomainError(code, message, code === 'tcg-log-too-large' ? 'too-large' : 'invalid');

class LogReader {
  pos = 0;
  event = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw refuse('tcg-log-truncated', `TCG event log is truncated: event ${this.event} needs ${n} bytes for ${what} at offset ${this.pos}, ${this.buf.length - this.pos} left`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return b[p] | (b[p + 1] << 8);
  }
  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }
  /** Skips `n` bytes and returns the offset where they start. */
  skip(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  malformed(message: string): DomainError {
    return refuse('tcg-log-malformed', `TCG event log is malformed: event ${this.event} at offset ${this.pos}: ${message}`);
  }
}

/** Parses a crypto-agile TCG PC Client event log. Throws a typed DomainError on any layout error. */
export function parseTcgEventLog(input: Uint8Array): TcgEventLog {
  if (!(input instanceof Uint8Array)) throw refuse('tcg-log-malformed', 'TCG event log must be bytes');
  if (input.length > MAX_TCG_LOG_BYTES) throw refuse('tcg-log-too-large', `TCG event log is ${input.length} bytes, more than ${MAX_TCG_LOG_BYTES}`);
  if (input.length === 0) throw refuse('tcg-log-truncated', 'TCG event log is empty');
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  const r = new LogReader(buf);
  const specId = readSpecId(r);
  const banks = specId.algorithms;
  const events: TcgEvent[] = [];
  let startupLocality = 0;
  let pcr0Extended = false;

  const n = banks.length;
  // Bank index by algorithm id for the common small ids (sha1 4, sha256 11, sha384 12, sm3 18).
  const bankOf = new Int8Array(64).fill(-1);
  banks.forEach((b, k) => b.algId < 64 && (bankOf[b.algId] = k));
  const len = buf.length;

  while (r.pos < len) {
    if (isZeroPadding(buf, r.pos)) break;
    r.event = events.length + 1;
    if (events.length >= MAX_TCG_EVENTS) throw refuse('tcg-log-too-large', `TCG event log has more than ${MAX_TCG_EVENTS} events`);
    const pcr = r.u32('the PCR index');
    if (pcr > MAX_TCG_PCR) throw r.malformed(`PCR index ${pcr} is beyond PCR ${MAX_TCG_PCR}`);
    const type = r.u32('the event type');
    const count = r.u32('the digest count');
    if (count !== n) throw r.malformed(`carries ${count} digests but the header declares ${n} banks`);
    // Built by push: `new Array(n).fill(-1)` took a third of the parse (fill on a holey array).
    const offsets: number[] = [];
    for (let i = 0; i < n; i++) offsets.push(-1);
    for (let i = 0; i < count; i++) {
      const algId = r.u16('a digest algorithm');
      const k = algId < 64 ? bankOf[algId] : banks.findIndex((b) => b.algId === algId);
      if (k < 0) throw r.malformed(`digest algorithm 0x${algId.toString(16).padStart(4, '0')} is not declared in the header`);
      if (offsets[k] !== -1) throw r.malformed(`carries two ${banks[k].name} digests`);
      offsets[k] = r.skip(banks[k].digestSize, 'a digest');
    }
    const size = r.u32('the event size');
    if (size > len - r.pos) {
      throw refuse('tcg-log-truncated', `TCG event log is truncated: event ${r.event} declares ${size} bytes of data at offset ${r.pos}, ${len - r.pos} left`);
    }
    const dataOffset = r.skip(size, 'the event data');
    let decoded: DecodedEvent | undefined;
    if (type === EV.NO_ACTION) {
      decoded = decodeNoAction(buf.subarray(dataOffset, dataOffset + size));
      if (decoded.kind === 'startup-locality') {
        if (pcr !== 0) throw r.malformed('the StartupLocality event is not in PCR 0');
        if (pcr0Extended) throw r.malformed('the StartupLocality event comes after PCR 0 was extended');
        if (decoded.locality > 4) throw r.malformed(`startup locality ${decoded.locality} is not 0 to 4`);
        startupLocality = decoded.locality;
      }
    } else if (pcr === 0) {
      pcr0Extended = true;
    }
    events.push(new TcgEvent(events.length + 1, pcr, type, buf, offsets, banks, dataOffset, size, decoded));
  }
  return { specId, startupLocality, events };
}

/** Trailing zeros (firmware tables and some dumps pad the log): nothing more is measured. */
function isZeroPadding(buf: Buffer, from: number): boolean {
  if (buf.length - from < 8) return false;
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

function readSpecId(r: LogReader): TcgSpecId {
  const pcr = r.u32('the header PCR index');
  const type = r.u32('the header event type');
  r.bytes(20, 'the header SHA-1 digest');
  const size = r.u32('the header event size');
  if (pcr !== 0 || type !== EV.NO_ACTION) throw r.malformed(`the first event must be the Spec ID EV_NO_ACTION in PCR 0 (is ${eventTypeName(type)} in PCR ${pcr})`);
  if (size < 33) throw r.malformed(`the Spec ID event is ${size} bytes, fewer than 33`);
  const end = r.pos + size;
  const signature = r.bytes(16, 'the Spec ID signature');
  const sig = signature.toString('latin1').replace(/\0+$/, '');
  if (sig === 'Spec ID Event00' || sig === 'Spec ID Event02') {
    throw refuse('tcg-log-unsupported', `TCG event log is a SHA-1-only (TPM 1.2, '${sig}') log; only crypto-agile 'Spec ID Event03' logs are accepted`);
  }
  if (sig !== 'Spec ID Event03') throw r.malformed(`the header signature is not 'Spec ID Event03'`);
  const platformClass = r.u32('the platform class');
  const minor = r.u8('the spec version');
  const major = r.u8('the spec version');
  const errata = r.u8('the spec errata');
  const uintnSize = r.u8('the UINTN size');
  if (uintnSize !== 1 && uintnSize !== 2) throw r.malformed(`UINTN size ${uintnSize} is not 1 or 2`);
  const n = r.u32('the number of algorithms');
  if (n < 1 || n > 16) throw r.malformed(`the header declares ${n} digest algorithms (1 to 16 allowed)`);
  const algorithms: TcgAlgorithm[] = [];
  for (let i = 0; i < n; i++) {
    const algId = r.u16('an algorithm id');
    const digestSize = r.u16('a digest size');
    const known = TCG_HASHES[algId];
    if (known && known.size !== digestSize) throw r.malformed(`${known.name} is declared with a ${digestSize}-byte digest, not ${known.size}`);
    if (digestSize < 1 || digestSize > 64) throw r.malformed(`algorithm 0x${algId.toString(16)} is declared with a ${digestSize}-byte digest`);
    if (algorithms.some((a) => a.algId === algId)) throw r.malformed(`algorithm 0x${algId.toString(16)} is declared twice`);
    algorithms.push({ algId, name: known?.name ?? `alg_0x${algId.toString(16).padStart(4, '0')}`, digestSize });
  }
  const vendorSize = r.u8('the vendor info size');
  const vendorInfo = r.bytes(vendorSize, 'the vendor info');
  if (r.pos !== end) throw r.malformed(`the Spec ID event declares ${size} bytes but its fields take ${size - (end - r.pos)}`);
  return { platformClass, specVersion: `${major}.${minor}.${errata}`, uintnSize, algorithms, vendorInfo: vendorInfo.toString('hex') };
}

function decodeNoAction(data: Buffer): DecodedEvent {
  const signature = data.subarray(0, 16).toString('latin1').replace(/\0+$/, '');
  if (signature === 'StartupLocality') {
    if (data.length !== 17) return { kind: 'undecodable', reason: `StartupLocality event has ${data.length} bytes, not 17` };
    return { kind: 'startup-locality', locality: data[16] };
  }
  return { kind: 'no-action', signature: /^[\x20-\x7e]*$/.test(signature) ? signature : '' };
}

/** Whether the log's bank `name` can be replayed here (we know its hash function). */
export function canReplayBank(name: string): boolean {
  return Object.values(TCG_HASHES).some((h) => h.name === name);
}

/**
 * Replays every bank the header declares (and we can hash): PCRs start at zeros (PCR 0 at the
 * startup locality), each non-EV_NO_ACTION event does PCR = H(PCR || digest), in log order.
 * Returns per bank only the PCRs the log extends, as tpm2_eventlog prints them.
 */
export function replayTcgEventLog(log: TcgEventLog, options: { banks?: readonly string[] } = {}): TcgPcrBanks {
  const out: TcgPcrBanks = {};
  const events = log.events;
  log.specId.algorithms.forEach((alg, k) => {
    if (!canReplayBank(alg.name) || (options.banks && !options.banks.includes(alg.name))) return;
    const hash = NODE_HASH[alg.name] ?? alg.name;
    // Each PCR is carried between extends as the latin1 string crypto.hash returns ('binary'):
    // on Node 20 a 'buffer' result costs about four times a string one (the C++ side allocates
    // a Buffer per call, and 'buffer' misses the encoding fast path), and an extend is little
    // else. Bytes move by plain loops: Buffer#write, #copy and #fill cost more than 32 bytes.
    const pcrs: (string | undefined)[] = new Array<string | undefined>(MAX_TCG_PCR + 1);
    const size = alg.digestSize;
    const scratch = Buffer.alloc(2 * size); // PCR || digest, hashed in one shot
    for (let j = 0; j < events.length; j++) {
      const event = events[j];
      if (event.type === EV.NO_ACTION) continue;
      const current = pcrs[event.pcr];
      if (current !== undefined) for (let i = 0; i < size; i++) scratch[i] = current.charCodeAt(i);
      else {
        for (let i = 0; i < size; i++) scratch[i] = 0;
        if (event.pcr === 0) scratch[size - 1] = log.startupLocality;
      }
      const src = event.log;
      const off = event.digestOffsets[k];
      for (let i = 0; i < size; i++) scratch[size + i] = src[off + i];
      pcrs[event.pcr] = oneShotHash(hash, scratch, 'binary');
    }
    const bank: Record<string, string> = {};
    pcrs.forEach((value, pcr) => value !== undefined && (bank[String(pcr)] = latin1ToHex(value)));
    out[alg.name] = bank;
  });
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function latin1ToHex(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += HEX[s.charCodeAt(i)];
  return out;
}

/** The value a PCR the log never extends has in bank `name` (zeros; PCR 0 at the locality). */
export function initialPcr(log: TcgEventLog, bank: string, pcr: number): string {
  const alg = log.specId.algorithms.find((a) => a.name === bank);
  const value = Buffer.alloc(alg?.digestSize ?? 32);
  if (pcr === 0) value[value.length - 1] = log.startupLocality;
  return value.toString('hex');
}
