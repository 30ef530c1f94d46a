import { decode, encode } from 'cborg';
import { DomainError, invalid } from '@fleetguard/common';

/**
 * CBOR (RFC 8949) for PSA tokens, COSE and CoRIM, through `cborg` in its strict mode: shortest
 * integer and length forms only, no indefinite lengths, no `undefined`, no duplicate map keys,
 * maps kept as `Map` (CBOR keys are integers, byte strings, ...), and only the tags a caller
 * names. Anything else is refused with a typed error, never a crash: cborg's own errors, and
 * the RangeError of a stack exhausted by nesting, become `<code>` with the reason.
 */

/** A CBOR tag kept as such (tag number and its content), for tags the caller allows. */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

export type CborMap = Map<unknown, unknown>;

/** Deepest nesting accepted (PSA tokens nest 4 levels, CoRIMs about 12). */
export const CBOR_MAX_DEPTH = 32;

export interface CborDecodeOptions {
  /** Tag numbers to accept (kept as CborTag). Any other tag is refused. */
  tags?: readonly number[];
  /** Error code of a refusal. */
  code: string;
  /** What is being decoded, for the message ("PSA token", "CoRIM"). */
  what: string;
}

export function decodeCbor(bytes: Uint8Array, opts: CborDecodeOptions): unknown {
  const tags: Array<(inner: unknown) => unknown> = [];
  for (const t of opts.tags ?? []) tags[t] = (inner: unknown) => new CborTag(t, inner);
  let value: unknown;
  try {
    value = decode(bytes, {
      strict: true,
      useMaps: true,
      rejectDuplicateMapKeys: true,
      allowIndefinite: false,
      allowUndefined: false,
      allowInfinity: false,
      allowNaN: false,
      allowBigInt: true,
      tags,
    });
  } catch (e) {
    const reason = e instanceof RangeError ? 'nested too deeply' : ((e as Error).message ?? 'unreadable').replace(/^CBOR decode error: /, '');
    throw invalid(opts.code, `${opts.what} is not valid CBOR: ${reason}`);
  }
  if (depthOf(value, 0) > CBOR_MAX_DEPTH) throw invalid(opts.code, `${opts.what} nests deeper than ${CBOR_MAX_DEPTH} levels`);
  return value;
}

function depthOf(v: unknown, d: number): number {
  if (d > CBOR_MAX_DEPTH) return d;
  if (Array.isArray(v)) return v.reduce((m: number, e) => Math.max(m, depthOf(e, d + 1)), d + 1);
  if (v instanceof Map) {
    let m = d + 1;
    for (const [k, e] of v) m = Math.max(m, depthOf(k, d + 1), depthOf(e, d + 1));
    return m;
  }
  if (v instanceof CborTag) return depthOf(v.value, d + 1);
  return d;
}

/** Deterministic CBOR encoding (RFC 8949 §4.2.1 as cborg does it): for Sig_structure and tests. */
export function encodeCbor(value: unknown): Uint8Array {
  if (value instanceof CborTag) {
    // A tag at the top (COSE_Sign1 tag 18, CoRIM tag 501): its head, then the content.
    const inner = encodeCbor(value.value);
    const n = value.tag;
    const head = n < 24 ? [0xc0 | n] : n < 0x100 ? [0xd8, n] : n < 0x10000 ? [0xd9, n >> 8, n & 0xff] : [0xda, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    return Buffer.concat([Buffer.from(head), inner]);
  }
  return encode(value);
}

/* ---------------------------------------------------------------- typed readers */

export function isMap(v: unknown): v is CborMap {
  return v instanceof Map;
}

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** The map at `v`, or a typed refusal naming `where`. */
export function expectMap(v: unknown, code: string, where: string): CborMap {
  if (!isMap(v)) throw invalid(code, `${where} must be a CBOR map`);
  return v;
}

export function expectArray(v: unknown, code: string, where: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(code, `${where} must be a CBOR array`);
  return v;
}

export function expectBytes(v: unknown, code: string, where: string, lengths?: readonly number[]): Buffer {
  if (!isBytes(v)) throw invalid(code, `${where} must be a byte string`);
  if (lengths && !lengths.includes(v.length)) throw invalid(code, `${where} must be ${lengths.join(', ').replace(/, (\d+)$/, ' or $1')} bytes, not ${v.length}`);
  return Buffer.from(v.buffer, v.byteOffset, v.length);
}

export function expectText(v: unknown, code: string, where: string, maxLength = 1024): string {
  if (typeof v !== 'string') throw invalid(code, `${where} must be a text string`);
  if (v.length > maxLength) throw invalid(code, `${where} is longer than ${maxLength} characters`);
  return v;
}

export function expectInt(v: unknown, code: string, where: string): number {
  if (typeof v === 'bigint') throw invalid(code, `${where} is out of range`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(code, `${where} must be an integer`);
  return v;
}

export function expectTag(v: unknown, tag: number, code: string, where: string): unknown {
  if (!(v instanceof CborTag) || v.tag !== tag) throw invalid(code, `${where} must carry CBOR tag ${tag}`);
  return v.value;
}

export function isCborError(e: unknown, code: string): e is DomainError {
  return e instanceof DomainError && e.code === code;
}
