/**
 * Measured-boot appraisal of a parsed TCG event log, two ways:
 *  - against a golden state recorded from a known-good device's log (every measured event, in
 *    order per PCR, with its digests): any difference names the event;
 *  - against a policy: Fleetguard's JSON, or a Keylime measured-boot reference state imported as
 *    is (keylime/mba/elchecking/example.py: scrtm_and_bios, pk, kek, db, dbx, mokdig, mokxdig,
 *    kernels, has_secureboot), decided with Keylime's semantics: PK/KEK/db within the allowed
 *    keys, dbx holding every required entry, the S-CRTM and firmware blobs one allowed set, the
 *    boot applications shim, grub, kernel (kernel possibly twice), the initrd digest, the kernel
 *    command line matching the regular expression.
 * Decoded event data a decision depends on must hash to the event's digest, so a log cannot
 * show one SecureBoot value and measure another.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { z } from 'zod';
import { invalid } from '@fleetguard/common';
import { MAX_TCG_PCR, TcgEvent, TcgEventLog } from './tcg-event-log.parser';
import { EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE, efiVariableDataKey, efiVariableKey, efiVariableLocation, EV, eventTypeName, eventTypeNumber, formatGuid, guidBytes, signatureListEntries } from './tcg-event.decoders';

/* ---------------------------------------------------------------- types */

/** Bank name to lowercase hex, e.g. `{ sha256: "ab..." }`: every bank given must match. */
export type DigestMap = Record<string, string>;
export interface EfiKey {
  owner: string;
  /** Lowercase hex of the signature data (a DER certificate or a hash). */
  data: string;
}
export interface AllowedKernel {
  shim: string;
  grub: string;
  kernel: string;
  initrd: string | null;
  /** Regular expression the whole command line (after `kernel_cmdline: `) must match. */
  cmdline: string | null;
}

/** One internal shape for both formats; null means "not checked". */
export interface MeasuredBootPolicy {
  source: 'fleetguard' | 'keylime';
  secureBoot: 'required' | 'disabled' | 'any';
  scrtmAndBios: { scrtm: DigestMap; platformFirmware: DigestMap[] }[] | null;
  pk: EfiKey[] | null;
  kek: EfiKey[] | null;
  db: EfiKey[] | null;
  /** Entries dbx must contain (a superset is fine: more revocations are good). */
  dbx: EfiKey[] | null;
  mokdig: DigestMap[] | null;
  mokxdig: DigestMap[] | null;
  kernels: AllowedKernel[] | null;
  /** Allowed SHA-256 (Authenticode) digests of EV_EFI_BOOT_SERVICES_APPLICATION events. */
  bootApplications: string[] | null;
  /** Regular expressions; every kernel command line must match one. */
  kernelCmdlines: string[] | null;
}

export interface GoldenBootEvent {
  index: number;
  pcr: number;
  type: string;
  digests: DigestMap;
  /** What the event was (device path, variable name, string), for reasons. */
  label?: string;
}

/** A known-good device's measured boot, as recorded from its log. */
export interface GoldenBootState {
  banks: string[];
  events: GoldenBootEvent[];
}

export interface MeasuredBootFinding {
  code: string;
  message: string;
  /** Event number in the log (the Spec ID header is 0), when one event is at fault. */
  event?: number;
  eventType?: string;
}

/* ---------------------------------------------------------------- labels */

export function eventLabel(e: TcgEvent): string | undefined {
  const d = e.decoded;
  if (d.kind === 'image-load') return d.devicePath || undefined;
  if (d.kind === 'efi-variable') return d.name;
  if (d.kind === 'string') return d.text.length > 80 ? `${d.text.slice(0, 77)}...` : d.text;
  return undefined;
}

export function describeEvent(e: TcgEvent): string {
  const label = eventLabel(e);
  return `event ${e.index} (${e.typeName}, PCR ${e.pcr}${label ? `, ${JSON.stringify(label)}` : ''})`;
}

const short = (hex: string) => `${hex.slice(0, 16)}..`;

/* ---------------------------------------------------------------- golden state */

/** Records every measured (not EV_NO_ACTION) event of a known-good log. */
export function recordGoldenBootState(log: TcgEventLog): GoldenBootState {
  return {
    banks: log.specId.algorithms.map((a) => a.name),
    events: log.events
      .filter((e) => e.type !== EV.NO_ACTION)
      .map((e) => {
        const label = eventLabel(e);
        return { index: e.index, pcr: e.pcr, type: e.typeName, digests: { ...e.digests }, ...(label ? { label } : {}) };
      }),
  };
}

const MAX_GOLDEN_REASONS = 20;

/**
 * Compares a log with a golden state, PCR by PCR, event by event, on the banks both carry. Every
 * difference names the event in the log (or the golden event that is missing).
 */
export function compareWithGoldenState(log: TcgEventLog, golden: GoldenBootState): MeasuredBootFinding[] {
  const findings: MeasuredBootFinding[] = [];
  const banks = golden.banks.filter((b) => log.specId.algorithms.some((a) => a.name === b));
  if (banks.length === 0) {
    return [{ code: 'golden-banks-disjoint', message: `the log's banks (${log.specId.algorithms.map((a) => a.name).join(', ')}) share none with the golden state (${golden.banks.join(', ')})` }];
  }
  const bank = banks.includes('sha256') ? 'sha256' : banks[0];
  const k = log.specId.algorithms.findIndex((a) => a.name === bank);
  const index = goldenIndex(golden);
  const want = goldenDigests(index, golden, bank);
  // The log's measured events per PCR (the parser keeps PCRs within 0..MAX_TCG_PCR).
  const mineByPcr: (TcgEvent[] | undefined)[] = new Array<TcgEvent[] | undefined>(MAX_TCG_PCR + 1);
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) continue;
    const list = mineByPcr[e.pcr];
    if (list) list.push(e);
    else mineByPcr[e.pcr] = [e];
  }
  const pcrs = [...index.byPcr.keys()];
  mineByPcr.forEach((list, pcr) => list && !index.byPcr.has(pcr) && pcrs.push(pcr));
  for (const pcr of pcrs.sort((a, b) => a - b)) {
    const mine = mineByPcr[pcr] ?? [];
    const theirs = index.byPcr.get(pcr) ?? [];
    const n = Math.max(mine.length, theirs.length);
    for (let i = 0; i < n; i++) {
      const e = mine[i];
      const gi = theirs[i];
      const g = gi === undefined ? undefined : golden.events[gi];
      if (e && !g) {
        findings.push({ code: 'event-not-in-golden-state', event: e.index, eventType: e.typeName, message: `${describeEvent(e)} is not in the golden state (PCR ${pcr} has ${theirs.length} events there)` });
      } else if (!e && g) {
        findings.push({ code: 'golden-event-missing', eventType: g.type, message: `the golden state's ${g.type} in PCR ${pcr}${g.label ? ` (${JSON.stringify(g.label)})` : ''}, its event ${g.index}, was not measured` });
      } else if (e && g && (e.type !== index.types[gi] || !e.digestEquals(k, want[gi]))) {
        const what = e.typeName !== g.type ? `is of type ${e.typeName}, the golden state has ${g.type}` : `measured ${bank}:${short(e.digests[bank])} but the golden state has ${bank}:${short(g.digests[bank] ?? '')}`;
        findings.push({ code: 'event-differs-from-golden-state', event: e.index, eventType: e.typeName, message: `${describeEvent(e)} ${what}` });
      }
      if (findings.length >= MAX_GOLDEN_REASONS) return findings;
    }
  }
  return findings;
}

/**
 * What a comparison needs of a golden state, made once per golden state (it is compared many
 * times; a golden state is a value, never changed once recorded): its events' positions per
 * PCR, their types as numbers (-1 for a name eventTypeName never gives, which no event has),
 * and per bank their digests as bytes.
 */
interface GoldenIndex {
  byPcr: Map<number, number[]>;
  types: number[];
  digests: Map<string, Buffer[]>;
}
const GOLDEN_INDEX = new WeakMap<GoldenBootState, GoldenIndex>();
const NO_DIGEST = Buffer.alloc(0);
function goldenIndex(golden: GoldenBootState): GoldenIndex {
  let index = GOLDEN_INDEX.get(golden);
  if (!index) {
    const byPcr = new Map<number, number[]>();
    golden.events.forEach((g, i) => (byPcr.get(g.pcr) ?? byPcr.set(g.pcr, []).get(g.pcr)!).push(i));
    const types = golden.events.map((g) => {
      const type = eventTypeNumber(g.type);
      return type !== undefined && eventTypeName(type) === g.type ? type : -1;
    });
    GOLDEN_INDEX.set(golden, (index = { byPcr, types, digests: new Map() }));
  }
  return index;
}
function goldenDigests(index: GoldenIndex, golden: GoldenBootState, bank: string): Buffer[] {
  let list = index.digests.get(bank);
  if (!list) {
    list = golden.events.map((g) => {
      const hex = g.digests[bank];
      return typeof hex === 'string' && /^(?:[0-9a-f]{2})+$/.test(hex) ? Buffer.from(hex, 'hex') : NO_DIGEST;
    });
    index.digests.set(bank, list);
  }
  return list;
}

/* ---------------------------------------------------------------- policy formats */

const hexString = z.string().max(1 << 20).regex(/^[0-9a-fA-F]+$/, 'must be hex').transform((s) => s.toLowerCase());
const sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (SHA-256)').transform((s) => s.toLowerCase());
const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID').transform((s) => s.toLowerCase());
const regexString = z
  .string()
  .max(1024)
  .refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be a regular expression');
const digestMap = z.record(z.enum(['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256']), hexString).refine((m) => Object.keys(m).length > 0, 'must name at least one bank');
const MAX_LIST = 10_000;

const fleetguardSchema = z.strictObject({
  secureBoot: z.enum(['required', 'disabled', 'any']).default('required'),
  scrtmAndBios: z.array(z.strictObject({ scrtm: digestMap, platformFirmware: z.array(digestMap).max(64) })).max(256).optional(),
  pk: z.array(z.strictObject({ owner: guid, data: hexString })).max(MAX_LIST).optional(),
  kek: z.array(z.strictObject({ owner: guid, data: hexString })).max(MAX_LIST).optional(),
  db: z.array(z.strictObject({ owner: guid, data: hexString })).max(MAX_LIST).optional(),
  dbx: z.array(z.strictObject({ owner: guid, data: hexString })).max(MAX_LIST).optional(),
  bootApplications: z.array(sha256Hex).max(MAX_LIST).optional(),
  kernelCmdlines: z.array(regexString).max(256).optional(),
});

/** Keylime writes hex as `0x...`. */
const hex0x = z.string().max(1 << 20).regex(/^0x[0-9a-fA-F]+$/, 'must be 0x followed by hex digits').transform((s) => s.slice(2).toLowerCase());
const keylimeDigest = z.record(z.string().max(16), hex0x).refine((m) => Object.keys(m).length > 0, 'must name at least one bank');
const keylimeKey = z.looseObject({ SignatureOwner: guid, SignatureData: hex0x });
const keylimeSchema = z.looseObject({
  has_secureboot: z.boolean().optional(),
  scrtm_and_bios: z.array(z.looseObject({ scrtm: keylimeDigest, platform_firmware: z.array(keylimeDigest).max(64) })).max(256),
  pk: z.array(keylimeKey).max(MAX_LIST),
  kek: z.array(keylimeKey).max(MAX_LIST),
  db: z.array(keylimeKey).max(MAX_LIST),
  dbx: z.array(keylimeKey).max(MAX_LIST),
  mokdig: z.array(keylimeDigest).max(MAX_LIST),
  mokxdig: z.array(keylimeDigest).max(MAX_LIST),
  kernels: z
    .array(
      z.looseObject({
        shim_authcode_sha256: hex0x,
        grub_authcode_sha256: hex0x,
        kernel_authcode_sha256: hex0x.optional(),
        vmlinuz_plain_sha256: hex0x.optional(),
        initrd_plain_sha256: hex0x,
        kernel_cmdline: regexString,
      }),
    )
    .max(1024),
});

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(policy)'}: ${i.message}`);
}

/**
 * Reads a measured-boot policy: a Keylime measured-boot reference state (recognized by its
 * `scrtm_and_bios` and `kernels` keys) or Fleetguard's JSON. Throws DomainError
 * `measured-boot-policy-invalid` naming the offending fields.
 */
export function parseMeasuredBootPolicy(json: unknown): MeasuredBootPolicy {
  const isKeylime = !!json && typeof json === 'object' && ('scrtm_and_bios' in json || 'kernels' in json || 'mokdig' in json);
  if (isKeylime) {
    const r = keylimeSchema.safeParse(json);
    if (!r.success) {
      const issues = issuesOf(r.error);
      throw invalid('measured-boot-policy-invalid', `Keylime measured-boot reference state is invalid: ${issues.slice(0, 5).join('; ')}`, { issues });
    }
    const k = r.data;
    const secure = k.has_secureboot ?? true;
    const keys = (list: { SignatureOwner: string; SignatureData: string }[]) => list.map((s) => ({ owner: s.SignatureOwner, data: s.SignatureData }));
    const kernels: AllowedKernel[] = [];
    k.kernels.forEach((kernel, i) => {
      const image = secure ? kernel.kernel_authcode_sha256 : kernel.vmlinuz_plain_sha256;
      if (!image) throw invalid('measured-boot-policy-invalid', `Keylime measured-boot reference state is invalid: kernels.${i}: needs ${secure ? 'kernel_authcode_sha256' : 'vmlinuz_plain_sha256'}`);
      kernels.push({ shim: kernel.shim_authcode_sha256, grub: kernel.grub_authcode_sha256, kernel: image, initrd: kernel.initrd_plain_sha256, cmdline: kernel.kernel_cmdline });
    });
    const empty = (list: EfiKey[]) => (!secure && list.length === 0 ? null : list);
    return {
      source: 'keylime',
      secureBoot: secure ? 'required' : 'disabled',
      scrtmAndBios: k.scrtm_and_bios.map((s) => ({ scrtm: s.scrtm, platformFirmware: s.platform_firmware })),
      pk: empty(keys(k.pk)),
      kek: empty(keys(k.kek)),
      db: empty(keys(k.db)),
      dbx: empty(keys(k.dbx)),
      mokdig: k.mokdig,
      mokxdig: k.mokxdig,
      kernels,
      bootApplications: null,
      kernelCmdlines: null,
    };
  }
  const r = fleetguardSchema.safeParse(json);
  if (!r.success) {
    const issues = issuesOf(r.error);
    throw invalid('measured-boot-policy-invalid', `measured-boot policy is invalid: ${issues.slice(0, 5).join('; ')}`, { issues });
  }
  const f = r.data;
  return {
    source: 'fleetguard',
    secureBoot: f.secureBoot,
    scrtmAndBios: f.scrtmAndBios ?? null,
    pk: f.pk ?? null,
    kek: f.kek ?? null,
    db: f.db ?? null,
    dbx: f.dbx ?? null,
    mokdig: null,
    mokxdig: null,
    kernels: null,
    bootApplications: f.bootApplications ?? null,
    kernelCmdlines: f.kernelCmdlines ?? null,
  };
}

/** A Fleetguard policy that accepts exactly what a known-good log shows (a starting point to edit). */
export function policyFromLog(log: TcgEventLog): Record<string, unknown> {
  const variable = (name: string) => log.events.find((e) => e.type === EV.EFI_VARIABLE_DRIVER_CONFIG && e.decoded.kind === 'efi-variable' && e.decoded.name === name);
  const keys = (name: string) => {
    const d = variable(name)?.decoded;
    return d?.kind === 'efi-variable' ? (d.signatures ?? []).map((s) => ({ owner: s.owner, data: s.data })) : [];
  };
  const sb = variable('SecureBoot')?.decoded;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    secureBoot: sb?.kind === 'efi-variable' && sb.secureBoot ? 'required' : 'any',
    pk: keys('PK'),
    kek: keys('KEK'),
    db: keys('db'),
    dbx: keys('dbx'),
    bootApplications: [...new Set(log.events.filter((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION && e.digests.sha256).map((e) => e.digests.sha256))],
    kernelCmdlines: kernelCmdlineEvents(log).map((c) => escape(c.cmdline)),
  };
}

/* ---------------------------------------------------------------- policy evaluation */

const NODE_HASH: Record<string, string> = { sm3_256: 'sm3' };

/** Whether `data` hashes to the event's digest in every bank we can hash. */
function dataMatchesDigest(e: TcgEvent, data: Buffer): boolean {
  let checked = 0;
  for (let k = 0; k < e.banks.length; k++) {
    const name = e.banks[k].name;
    if (!HASHABLE.has(name)) continue;
    // A latin1 ('binary') string result: on Node 20 a 'buffer' one costs several times more.
    if (!digestEqualsLatin1(e, k, oneShotHash(NODE_HASH[name] ?? name, data, 'binary'))) return false;
    checked++;
  }
  return checked > 0;
}
const HASHABLE = new Set(['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256']);

/** Whether bank `k`'s digest of `e` is the bytes of `want` (a latin1 string, one char a byte). */
function digestEqualsLatin1(e: TcgEvent, k: number, want: string): boolean {
  const size = e.banks[k].digestSize;
  if (want.length !== size) return false;
  const log = e.log;
  const off = e.digestOffsets[k];
  for (let i = 0; i < size; i++) if (log[off + i] !== want.charCodeAt(i)) return false;
  return true;
}

function digestMatches(e: TcgEvent, want: DigestMap): boolean {
  const banks = Object.keys(want).filter((b) => e.digests[b] !== undefined);
  return banks.length > 0 && banks.every((b) => e.digests[b] === want[b]);
}

function kernelCmdlineEvents(log: TcgEventLog): { event: TcgEvent; cmdline: string }[] {
  const out: { event: TcgEvent; cmdline: string }[] = [];
  for (const e of log.events) {
    // 'k' first (ASCII or UTF-16LE alike): grub measures every command it runs here; decode only candidates.
    if (e.pcr !== 8 || e.type !== EV.IPL || e.dataLength === 0 || e.log[e.dataOffset] !== 0x6b || e.decoded.kind !== 'string' || !e.decoded.text.startsWith('kernel_cmdline: ')) continue;
    out.push({ event: e, cmdline: e.decoded.text.slice('kernel_cmdline: '.length) });
  }
  return out;
}

/** Compiled `^(?:pattern)$` per pattern (policies are evaluated many times); null when it does not compile. */
const FULL_MATCH = new Map<string, RegExp | null>();
const fullMatch = (pattern: string, s: string) => {
  let re = FULL_MATCH.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 's');
    } catch {
      re = null;
    }
    if (FULL_MATCH.size >= 4096) FULL_MATCH.clear();
    FULL_MATCH.set(pattern, re);
  }
  return re !== null && re.test(s);
};

/**
 * An EFI signature as its bytes, owner GUID then data: what an EFI_SIGNATURE_DATA holds, so a
 * log's entry is a range of its event data (no hex, no GUID text). A policy key becomes those
 * bytes when its owner is a GUID in lowercase text and its data lowercase hex of whole bytes
 * (what the policy parsers produce), else null: it then matches nothing, as its text never
 * equalled a log entry's.
 */
function policyKeyBytes(k: EfiKey): Buffer | null {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(k.owner) || !/^(?:[0-9a-f]{2})*$/.test(k.data)) return null;
  return Buffer.concat([guidBytes(k.owner), Buffer.from(k.data, 'hex')]);
}

/**
 * Byte ranges found by a short fingerprint (length and last 8 bytes: a certificate ends in its
 * signature, a hash is all entropy) and then compared whole: a lookup neither copies a
 * certificate into a string nor hashes all of it.
 */
class ByteRangeIndex {
  private readonly byPrint = new Map<string, { buf: Buffer; start: number; end: number }[]>();
  static print(buf: Buffer, start: number, end: number): string {
    return `${end - start}:${buf.toString('latin1', Math.max(start, end - 8), end)}`;
  }
  add(buf: Buffer, start: number, end: number): void {
    const key = ByteRangeIndex.print(buf, start, end);
    const list = this.byPrint.get(key);
    if (list) list.push({ buf, start, end });
    else this.byPrint.set(key, [{ buf, start, end }]);
  }
  has(buf: Buffer, start: number, end: number): boolean {
    const list = this.byPrint.get(ByteRangeIndex.print(buf, start, end));
    return !!list && list.some((r) => buf.compare(r.buf, r.start, r.end, start, end) === 0);
  }
}

/** A policy list's keys as policyKeyBytes (null for those that match nothing), and their index; built once per list (a policy is evaluated many times). */
const KEY_SETS = new WeakMap<EfiKey[], { keys: (Buffer | null)[]; index: ByteRangeIndex }>();
function policyKeys(allowed: EfiKey[]): { keys: (Buffer | null)[]; index: ByteRangeIndex } {
  let keys = KEY_SETS.get(allowed);
  if (!keys) {
    const list = allowed.map(policyKeyBytes);
    const index = new ByteRangeIndex();
    for (const k of list) if (k) index.add(k, 0, k.length);
    KEY_SETS.set(allowed, (keys = { keys: list, index }));
  }
  return keys;
}

/** efiVariableKey of the variables a policy reads, made once. */
const VARIABLE_KEYS = new Map<string, string>(
  [
    [EFI_GLOBAL_VARIABLE, 'SecureBoot'],
    [EFI_GLOBAL_VARIABLE, 'PK'],
    [EFI_GLOBAL_VARIABLE, 'KEK'],
    [EFI_IMAGE_SECURITY_DATABASE, 'db'],
    [EFI_IMAGE_SECURITY_DATABASE, 'dbx'],
  ].map(([guid, name]) => [`${guid}/${name}`, efiVariableKey(guid, name)]),
);

/** A measured EFI variable (EV_EFI_VARIABLE_DRIVER_CONFIG) whose header reads, with its value. */
interface ConfigVariable {
  event: TcgEvent;
  value: Buffer;
}

/** Evaluates a log against a policy. Returns the findings; none means the log complies. */
export function evaluateMeasuredBootPolicy(log: TcgEventLog, policy: MeasuredBootPolicy): MeasuredBootFinding[] {
  const findings: MeasuredBootFinding[] = [];
  const at = (e: TcgEvent, code: string, message: string) => findings.push({ code, message: `${describeEvent(e)}: ${message}`, event: e.index, eventType: e.typeName });
  const bound = (e: TcgEvent, data: Buffer = e.data): boolean => {
    if (dataMatchesDigest(e, data)) return true;
    at(e, 'event-data-digest-mismatch', 'its event data does not hash to its digest, so what it says cannot be trusted');
    return false;
  };

  // The EFI variables measured by config, by GUID and name, read from their headers alone: no
  // event's data is decoded (a db's hex costs more than its hash), values are views.
  const variables = new Map<string, ConfigVariable[]>();
  for (const e of log.events) {
    if (e.type !== EV.EFI_VARIABLE_DRIVER_CONFIG) continue;
    const data = e.data;
    const at = efiVariableLocation(data);
    if (!at) continue;
    const key = efiVariableDataKey(data, at);
    const v = { event: e, value: data.subarray(at.valueOffset, at.valueOffset + at.valueLength) };
    const list = variables.get(key);
    if (list) list.push(v);
    else variables.set(key, [v]);
  }
  const config = (guid: string, name: string) => variables.get(VARIABLE_KEYS.get(`${guid}/${name}`) ?? efiVariableKey(guid, name)) ?? [];

  /* Secure Boot */
  const sbEvents = config(EFI_GLOBAL_VARIABLE, 'SecureBoot');
  if (policy.secureBoot !== 'any') {
    if (sbEvents.length === 0) findings.push({ code: 'secure-boot-not-measured', message: `the log measures no SecureBoot variable, and the policy requires Secure Boot ${policy.secureBoot === 'required' ? 'enabled' : 'disabled'}` });
    for (const { event: e, value } of sbEvents) {
      if (!bound(e)) continue;
      const on = value.length >= 1 && value[0] === 1;
      if (policy.secureBoot === 'required' && !on) at(e, 'secure-boot-disabled', 'Secure Boot is disabled, and the policy requires it');
      if (policy.secureBoot === 'disabled' && on) at(e, 'secure-boot-enabled', 'Secure Boot is enabled, and the policy (has_secureboot false) expects it disabled');
    }
  }

  /* PK, KEK, db within the allowed keys; dbx holding every required entry */
  const databases: [string, string, EfiKey[] | null, 'subset' | 'superset'][] = [
    ['PK', EFI_GLOBAL_VARIABLE, policy.pk, 'subset'],
    ['KEK', EFI_GLOBAL_VARIABLE, policy.kek, 'subset'],
    ['db', EFI_IMAGE_SECURITY_DATABASE, policy.db, 'subset'],
    ['dbx', EFI_IMAGE_SECURITY_DATABASE, policy.dbx, 'superset'],
  ];
  for (const [name, guid, allowed, mode] of databases) {
    if (!allowed) continue;
    // Each entry's owner-and-data bytes; a variable whose signature lists do not parse is, as
    // for decodeEventData, not a readable signature database, so it does not count as measured.
    const measured: { event: TcgEvent; value: Buffer; entries: { ownerAt: number; end: number }[] }[] = [];
    for (const v of config(guid, name)) {
      const entries: { ownerAt: number; end: number }[] = [];
      if (signatureListEntries(v.value, (_, ownerAt, end) => entries.push({ ownerAt, end }))) measured.push({ ...v, entries });
    }
    if (measured.length === 0) {
      findings.push({ code: 'signature-database-not-measured', message: `the log does not measure ${name}, which the policy constrains` });
      continue;
    }
    if (measured.length > 1) at(measured[1].event, 'signature-database-measured-twice', `${name} is measured more than once`);
    const { event: e, value, entries } = measured[0];
    if (!bound(e)) continue;
    const want = policyKeys(allowed);
    if (mode === 'subset') {
      const extra = entries.filter((s) => !want.index.has(value, s.ownerAt, s.end));
      if (extra.length) {
        const first = extra[0];
        const owner = formatGuid(value.subarray(first.ownerAt, first.ownerAt + 16));
        const dataSha = createHash('sha256').update(value.subarray(first.ownerAt + 16, first.end)).digest('hex');
        at(e, `${name.toLowerCase()}-differs`, `${name} holds ${extra.length} entr${extra.length === 1 ? 'y' : 'ies'} the policy does not allow (first: owner ${owner}, sha256 of data ${short(dataSha)})`);
      }
    } else {
      const have = new ByteRangeIndex();
      for (const s of entries) have.add(value, s.ownerAt, s.end);
      const missing = allowed.filter((_, i) => {
        const key = want.keys[i];
        return key === null || !have.has(key, 0, key.length);
      });
      if (missing.length) at(e, 'dbx-differs', `dbx lacks ${missing.length} of the ${allowed.length} revocation entr${allowed.length === 1 ? 'y' : 'ies'} the policy requires (first: ${short(missing[0].data)})`);
    }
  }

  /* S-CRTM and platform firmware: one allowed set */
  if (policy.scrtmAndBios) {
    const scrtm = log.events.filter((e) => e.pcr === 0 && e.type === EV.S_CRTM_VERSION);
    const blobs = log.events.filter((e) => e.pcr === 0 && (e.type === EV.EFI_PLATFORM_FIRMWARE_BLOB || e.type === EV.EFI_PLATFORM_FIRMWARE_BLOB2));
    const fits = (allowed: { scrtm: DigestMap; platformFirmware: DigestMap[] }) =>
      scrtm.length === 1 && digestMatches(scrtm[0], allowed.scrtm) && blobs.length === allowed.platformFirmware.length && blobs.every((b, i) => digestMatches(b, allowed.platformFirmware[i]));
    if (!policy.scrtmAndBios.some(fits)) {
      const first = policy.scrtmAndBios[0];
      const culprit = scrtm.find((e) => !first || !digestMatches(e, first.scrtm)) ?? blobs.find((b, i) => !first?.platformFirmware[i] || !digestMatches(b, first.platformFirmware[i]));
      const message = `the S-CRTM version and platform firmware (${scrtm.length} + ${blobs.length} events) are not one of the ${policy.scrtmAndBios.length} allowed sets`;
      if (culprit) at(culprit, 'firmware-not-allowed', message);
      else findings.push({ code: 'firmware-not-allowed', message });
    }
  }

  /* MOK lists (shim, PCR 14) */
  for (const [name, allowed] of [['MokList', policy.mokdig], ['MokListX', policy.mokxdig]] as const) {
    if (!allowed) continue;
    for (const e of log.events.filter((x) => x.pcr === 14 && x.type === EV.IPL && x.decoded.kind === 'string' && x.decoded.text === name)) {
      if (!allowed.some((d) => digestMatches(e, d))) at(e, `${name.toLowerCase()}-not-allowed`, `${name} digest sha256:${short(e.digests.sha256 ?? '')} is not one the policy allows`);
    }
  }

  /* Boot applications, initrd and kernel command line */
  const bsas = log.events.filter((e) => e.pcr === 4 && e.type === EV.EFI_BOOT_SERVICES_APPLICATION);
  const cmdlines = kernelCmdlineEvents(log);
  // grub's kernel_cmdline digest covers the command line without the prefix and the NUL.
  for (const c of cmdlines) bound(c.event, Buffer.from(c.cmdline, 'latin1'));
  if (policy.bootApplications) {
    const allowed = new Set(policy.bootApplications);
    for (const e of bsas) if (!allowed.has(e.digests.sha256 ?? '')) at(e, 'boot-application-unknown', `boot application sha256:${short(e.digests.sha256 ?? '')} is not allowed by the policy`);
  }
  if (policy.kernelCmdlines) {
    for (const c of cmdlines) if (!policy.kernelCmdlines.some((p) => fullMatch(p, c.cmdline))) at(c.event, 'kernel-cmdline-differs', `kernel command line ${JSON.stringify(c.cmdline)} matches none the policy allows`);
  }
  if (policy.kernels) findings.push(...evaluateKernels(log, policy, bsas, cmdlines));
  return findings;
}

function evaluateKernels(log: TcgEventLog, policy: MeasuredBootPolicy, bsas: TcgEvent[], cmdlines: { event: TcgEvent; cmdline: string }[]): MeasuredBootFinding[] {
  const kernels = policy.kernels ?? [];
  const sha = (e: TcgEvent) => e.digests.sha256 ?? '';
  const initrds = log.events.filter((e) => e.pcr === 9 && e.type === EV.IPL && e.decoded.kind === 'string' && /\/(initrd|initramfs)/.test(e.decoded.text));
  const tryKernel = (k: AllowedKernel): MeasuredBootFinding[] => {
    const out: MeasuredBootFinding[] = [];
    const at = (e: TcgEvent, code: string, message: string) => out.push({ code, message: `${describeEvent(e)}: ${message}`, event: e.index, eventType: e.typeName });
    const secure = policy.secureBoot === 'required';
    const expected = secure ? [k.shim, k.grub, k.kernel] : [k.shim, k.grub];
    const roles = ['shim', 'grub', 'kernel', 'kernel'];
    const okLength = bsas.length === expected.length || (secure && bsas.length === 4);
    bsas.forEach((e, i) => {
      const want = i < expected.length ? expected[i] : secure && i === 3 ? k.kernel : null;
      if (want === null) at(e, 'boot-application-unknown', `boot application sha256:${short(sha(e))} is one more than the policy's shim, grub${secure ? ', kernel' : ''}`);
      else if (sha(e) !== want) at(e, 'boot-application-unknown', `boot application sha256:${short(sha(e))} is not the allowed ${roles[i]} (sha256:${short(want)})`);
    });
    if (!okLength && bsas.length < expected.length) out.push({ code: 'boot-application-missing', message: `the log has ${bsas.length} boot applications; the policy expects ${expected.length} (shim, grub${secure ? ', kernel' : ''})` });
    if (!secure) {
      const vmlinuz = log.events.filter((e) => e.pcr === 9 && e.type === EV.IPL && e.decoded.kind === 'string' && /\/vmlinuz/.test(e.decoded.text));
      for (const e of vmlinuz) if (sha(e) !== k.kernel) at(e, 'kernel-differs', `kernel sha256:${short(sha(e))} is not the allowed one (sha256:${short(k.kernel)})`);
    }
    if (k.initrd) for (const e of initrds) if (sha(e) !== k.initrd) at(e, 'initrd-differs', `initrd sha256:${short(sha(e))} is not the allowed one (sha256:${short(k.initrd)})`);
    if (k.cmdline !== null) {
      if (cmdlines.length === 0) out.push({ code: 'kernel-cmdline-missing', message: 'the log measures no kernel command line, and the policy constrains it' });
      for (const c of cmdlines) if (!fullMatch(k.cmdline, c.cmdline)) at(c.event, 'kernel-cmdline-differs', `kernel command line ${JSON.stringify(c.cmdline)} does not match the policy's ${JSON.stringify(k.cmdline)}`);
    }
    return out;
  };
  if (kernels.length === 0) return [{ code: 'kernels-empty', message: 'the policy allows no kernel' }];
  let best: MeasuredBootFinding[] | null = null;
  for (const k of kernels) {
    const f = tryKernel(k);
    if (f.length === 0) return [];
    if (!best || f.length < best.length) best = f;
  }
  return best ?? [];
}
