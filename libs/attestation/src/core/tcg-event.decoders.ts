/**
 * Decoders for the event data of a TCG PC Client event log (TCG PC Client Platform Firmware
 * Profile, section 10.4 "Event types"; UEFI 2.x for device paths, signature lists and GPT).
 *
 * A decoder never throws: event data comes from firmware, and firmware writes odd things. What a
 * decoder cannot read becomes `{ kind: 'undecodable', reason }`: the digests are what the TPM
 * measured and they still replay; only a policy that needs the decoded content refuses it.
 */

export const EV = {
  PREBOOT_CERT: 0x0,
  POST_CODE: 0x1,
  UNUSED: 0x2,
  NO_ACTION: 0x3,
  SEPARATOR: 0x4,
  ACTION: 0x5,
  EVENT_TAG: 0x6,
  S_CRTM_CONTENTS: 0x7,
  S_CRTM_VERSION: 0x8,
  CPU_MICROCODE: 0x9,
  PLATFORM_CONFIG_FLAGS: 0xa,
  TABLE_OF_DEVICES: 0xb,
  COMPACT_HASH: 0xc,
  IPL: 0xd,
  IPL_PARTITION_DATA: 0xe,
  NONHOST_CODE: 0xf,
  NONHOST_CONFIG: 0x10,
  NONHOST_INFO: 0x11,
  OMIT_BOOT_DEVICE_EVENTS: 0x12,
  POST_CODE2: 0x13,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EFI_VARIABLE_BOOT: 0x80000002,
  EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EFI_GPT_EVENT: 0x80000006,
  EFI_ACTION: 0x80000007,
  EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009,
  EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EFI_HANDOFF_TABLES2: 0x8000000b,
  EFI_VARIABLE_BOOT2: 0x8000000c,
  EFI_GPT_EVENT2: 0x8000000d,
  EFI_HCRTM_EVENT: 0x80000010,
  EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
} as const;

// Maps, not objects: the EFI types are above 2^31, and an object looks such keys up as strings.
const EV_NAMES = new Map<number, string>(Object.entries(EV).map(([k, v]) => [v, `EV_${k}`]));
const EV_NUMBERS = new Map<string, number>(Object.entries(EV).map(([k, v]) => [`EV_${k}`, v]));

/** `EV_EFI_ACTION`, or `EV_UNKNOWN_0x...` for a type the profile does not define. */
export function eventTypeName(type: number): string {
  return EV_NAMES.get(type) ?? `EV_UNKNOWN_0x${type.toString(16).padStart(8, '0')}`;
}

/** The inverse of eventTypeName (undefined for a name it never gives). */
export function eventTypeNumber(name: string): number | undefined {
  const known = EV_NUMBERS.get(name);
  if (known !== undefined) return known;
  const m = /^EV_UNKNOWN_0x([0-9a-f]{8})$/.exec(name);
  return m ? parseInt(m[1], 16) : undefined;
}

export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
export const EFI_IMAGE_SECURITY_DATABASE = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';
export const EFI_CERT_SHA256 = 'c1c41626-504c-4092-aca9-41f936934328';
export const EFI_CERT_X509 = 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072';

export interface EfiSignature {
  /** Signature type GUID of its list (EFI_CERT_X509, EFI_CERT_SHA256, ...). */
  type: string;
  owner: string;
  /** The signature data, lowercase hex (a DER certificate or a hash). */
  data: string;
}

export type DecodedEvent =
  | { kind: 'spec-id'; signature: string }
  | { kind: 'startup-locality'; locality: number }
  | { kind: 'no-action'; signature: string }
  | { kind: 'efi-variable'; guid: string; name: string; data: string; secureBoot?: boolean; signatures?: EfiSignature[] }
  | { kind: 'image-load'; location: string; length: string; devicePath: string }
  | { kind: 'string'; text: string }
  | { kind: 'separator'; value: number; error: boolean }
  | { kind: 'firmware-blob'; base: string; length: string; description?: string }
  | { kind: 'gpt'; diskGuid: string; partitions: { type: string; guid: string; firstLba: string; lastLba: string; name: string }[] }
  | { kind: 'undecodable'; reason: string }
  | { kind: 'opaque' };

class DecodeError extends Error {}

/** Little-endian bounded reader over event data; throws DecodeError past the end. */
class LeReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new DecodeError(`needs ${n} bytes at offset ${this.pos}, has ${this.buf.length - this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a safe length within this buffer. */
  len64(): number {
    const v = this.u64();
    if (v > BigInt(this.buf.length)) throw new DecodeError(`length ${v} exceeds the event data (${this.buf.length} bytes)`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  guid(): string {
    return formatGuid(this.bytes(16));
  }
  get rest(): number {
    return this.buf.length - this.pos;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** EFI_GUID as text: the first three fields are little-endian. */
export function formatGuid(b: Uint8Array): string {
  const h = (i: number) => HEX[b[i]];
  return (
    h(3) + h(2) + h(1) + h(0) + '-' + h(5) + h(4) + '-' + h(7) + h(6) + '-' + h(8) + h(9) + '-' +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15)
  );
}

/** Where a UEFI_VARIABLE_DATA's name and value lie in the event data (the GUID is its first 16 bytes). */
export interface EfiVariableLocation {
  /** The name, UTF-16LE, runs from byte 32 to here. */
  valueOffset: number;
  valueLength: number;
}

/**
 * Where a UEFI_VARIABLE_DATA's name and value lie, without decoding anything (to pick the
 * variables a policy needs, and read their values, without paying for the hex of a db).
 * Undefined exactly when decodeEventData finds the variable itself undecodable.
 */
export function efiVariableLocation(data: Buffer): EfiVariableLocation | undefined {
  if (data.length < 32) return undefined;
  // Two u64 lengths, read as u32 halves: event data is far below 2^32 bytes, so a length with a
  // high half is too long (decodeEfiVariable's len64 refuses it too), and no BigInt is made.
  if (data.readUInt32LE(20) !== 0 || data.readUInt32LE(28) !== 0) return undefined;
  const nameChars = data.readUInt32LE(16);
  const valueLength = data.readUInt32LE(24);
  if (nameChars > data.length || valueLength > data.length) return undefined;
  const valueOffset = 32 + nameChars * 2;
  if (valueOffset + valueLength > data.length) return undefined;
  return { valueOffset, valueLength };
}

/** A UEFI_VARIABLE_DATA's GUID and name as its bytes (latin1, a char a byte), to compare with efiVariableKey's. */
export function efiVariableDataKey(data: Buffer, at: EfiVariableLocation): string {
  return data.toString('latin1', 0, 16) + data.toString('latin1', 32, at.valueOffset);
}

/** The key efiVariableDataKey gives for variable `name` of vendor GUID `guid` (lowercase text). */
export function efiVariableKey(guid: string, name: string): string {
  return guidBytes(guid).toString('latin1') + Buffer.from(name, 'utf16le').toString('latin1');
}

/** formatGuid's inverse, for a GUID in its canonical text (the first three fields little-endian). */
export function guidBytes(guid: string): Buffer {
  const g = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(g) || guid.length !== 36) throw new RangeError(`not a GUID: ${guid}`);
  const le = g.slice(6, 8) + g.slice(4, 6) + g.slice(2, 4) + g.slice(0, 2) + g.slice(10, 12) + g.slice(8, 10) + g.slice(14, 16) + g.slice(12, 14) + g.slice(16);
  return Buffer.from(le, 'hex');
}

/**
 * The GUID and name of a UEFI_VARIABLE_DATA without decoding its value (to pick the variables a
 * policy needs before paying for their hex). Undefined when the data is not one.
 */
export function efiVariableName(data: Buffer): { guid: string; name: string } | undefined {
  if (data.length < 32) return undefined;
  const nameChars = data.readBigUInt64LE(16);
  if (nameChars > BigInt(data.length)) return undefined;
  const end = 32 + Number(nameChars) * 2;
  if (end > data.length) return undefined;
  return { guid: formatGuid(data.subarray(0, 16)), name: data.toString('utf16le', 32, end) };
}

function utf16(b: Buffer): string {
  let end = b.length - (b.length % 2);
  while (end >= 2 && b[end - 2] === 0 && b[end - 1] === 0) end -= 2;
  return b.subarray(0, end).toString('utf16le');
}

function ascii(b: Buffer): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end).toString('latin1');
}

/** ASCII or UTF-16LE text, whichever the bytes look like (firmware writes both). */
function text(b: Buffer): string {
  if (b.length >= 4 && b.length % 2 === 0 && b[1] === 0 && b[3] === 0) return utf16(b);
  return ascii(b);
}

const hex64 = (v: bigint) => `0x${v.toString(16)}`;

/** Decodes one event's data by its type. Never throws. */
export function decodeEventData(type: number, data: Buffer): DecodedEvent {
  try {
    switch (type) {
      case EV.EFI_VARIABLE_DRIVER_CONFIG:
      case EV.EFI_VARIABLE_BOOT:
      case EV.EFI_VARIABLE_BOOT2:
        return decodeEfiVariable(data, false);
      case EV.EFI_VARIABLE_AUTHORITY:
        return decodeEfiVariable(data, true);
      case EV.EFI_BOOT_SERVICES_APPLICATION:
      case EV.EFI_BOOT_SERVICES_DRIVER:
      case EV.EFI_RUNTIME_SERVICES_DRIVER:
        return decodeImageLoad(data);
      case EV.IPL:
      case EV.EFI_ACTION:
      case EV.ACTION:
      case EV.S_CRTM_VERSION:
      case EV.POST_CODE:
      case EV.EFI_HCRTM_EVENT:
        return decodeString(data);
      case EV.SEPARATOR: {
        if (data.length !== 4) return { kind: 'undecodable', reason: `separator has ${data.length} bytes, not 4` };
        const value = data.readUInt32LE(0);
        return { kind: 'separator', value, error: value !== 0 };
      }
      case EV.EFI_PLATFORM_FIRMWARE_BLOB: {
        const r = new LeReader(data);
        return { kind: 'firmware-blob', base: hex64(r.u64()), length: hex64(r.u64()) };
      }
      case EV.EFI_PLATFORM_FIRMWARE_BLOB2: {
        const r = new LeReader(data);
        const description = ascii(r.bytes(r.u8()));
        return { kind: 'firmware-blob', description, base: hex64(r.u64()), length: hex64(r.u64()) };
      }
      case EV.EFI_GPT_EVENT:
      case EV.EFI_GPT_EVENT2:
        return decodeGpt(data);
      default:
        return { kind: 'opaque' };
    }
  } catch (e) {
    if (e instanceof DecodeError) return { kind: 'undecodable', reason: e.message };
    throw e;
  }
}

function decodeString(data: Buffer): DecodedEvent {
  const t = text(data);
  // Some firmware puts a GUID or binary version there: keep it as hex rather than as mojibake.
  return /[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(t) ? { kind: 'opaque' } : { kind: 'string', text: t };
}

/**
 * UEFI_VARIABLE_DATA: VariableName GUID, u64 name length (chars), u64 data length, name, data.
 * For EV_EFI_VARIABLE_AUTHORITY the data of a db entry is the one EFI_SIGNATURE_DATA (owner
 * GUID, then the certificate or hash) that verified the image, not a whole signature list.
 */
function decodeEfiVariable(data: Buffer, authority: boolean): DecodedEvent {
  const r = new LeReader(data);
  const guid = r.guid();
  const nameChars = r.len64();
  const dataLength = r.len64();
  const name = r.bytes(nameChars * 2).toString('utf16le');
  const value = r.bytes(dataLength);
  const out: Extract<DecodedEvent, { kind: 'efi-variable' }> = { kind: 'efi-variable', guid, name, data: value.toString('hex') };
  if (name === 'SecureBoot' && guid === EFI_GLOBAL_VARIABLE) out.secureBoot = value.length >= 1 && value[0] === 1;
  if (isSignatureDatabase(guid, name)) {
    if (!authority) out.signatures = decodeSignatureLists(value);
    else if (value.length > 16) out.signatures = [{ type: '', owner: formatGuid(value.subarray(0, 16)), data: value.subarray(16).toString('hex') }];
  }
  return out;
}

function isSignatureDatabase(guid: string, name: string): boolean {
  if (guid === EFI_GLOBAL_VARIABLE) return name === 'PK' || name === 'KEK';
  if (guid === EFI_IMAGE_SECURITY_DATABASE) return name === 'db' || name === 'dbx' || name === 'dbt' || name === 'dbr';
  return false;
}

/** A sequence of EFI_SIGNATURE_LIST: type GUID, list size, header size, signature size, header, signatures. */
export function decodeSignatureLists(value: Buffer): EfiSignature[] {
  const out: EfiSignature[] = [];
  let type = '';
  let typeAt = -1;
  walkSignatureLists(value, (listAt, ownerAt, end) => {
    if (listAt !== typeAt) type = formatGuid(value.subarray((typeAt = listAt), listAt + 16));
    out.push({ type, owner: formatGuid(value.subarray(ownerAt, ownerAt + 16)), data: value.toString('hex', ownerAt + 16, end) });
  });
  return out;
}

/**
 * The EFI_SIGNATURE_DATA entries of a sequence of EFI_SIGNATURE_LIST as offsets, no copy: for
 * each, where its list starts (its type GUID), where its owner GUID starts (the data follows it)
 * and where it ends. False when the lists do not parse (decodeSignatureLists then refuses them).
 */
export function signatureListEntries(value: Buffer, visit: (listAt: number, ownerAt: number, end: number) => void): boolean {
  try {
    walkSignatureLists(value, visit);
    return true;
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw e;
  }
}

function walkSignatureLists(value: Buffer, visit: (listAt: number, ownerAt: number, end: number) => void): void {
  const r = new LeReader(value);
  while (r.rest > 0) {
    const start = r.pos;
    r.need(16);
    r.pos += 16;
    const listSize = r.u32();
    const headerSize = r.u32();
    const sigSize = r.u32();
    if (listSize < 28 || start + listSize > value.length) throw new DecodeError(`signature list size ${listSize} does not fit`);
    if (sigSize < 16) throw new DecodeError(`signature size ${sigSize} is smaller than its owner GUID`);
    r.bytes(headerSize);
    const body = listSize - 28 - headerSize;
    if (body < 0 || body % sigSize !== 0) throw new DecodeError(`signature list body of ${body} bytes is not a whole number of ${sigSize}-byte signatures`);
    for (let i = 0; i < body / sigSize; i++) {
      const ownerAt = r.pos;
      r.need(16);
      r.pos += 16;
      r.need(sigSize - 16);
      r.pos += sigSize - 16;
      visit(start, ownerAt, r.pos);
    }
  }
}

/** UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device path length, device path. */
function decodeImageLoad(data: Buffer): DecodedEvent {
  const r = new LeReader(data);
  const location = r.u64();
  const length = r.u64();
  r.u64();
  const pathLength = r.len64();
  const path = r.bytes(pathLength);
  return { kind: 'image-load', location: hex64(location), length: hex64(length), devicePath: formatDevicePath(path) };
}

/**
 * EFI_DEVICE_PATH_PROTOCOL as text, in the UEFI spec's notation for the nodes boot chains use
 * (PciRoot, Pci, HD, File path, ...), `Path(type,subtype,hex)` for the rest.
 */
export function formatDevicePath(path: Buffer): string {
  const parts: string[] = [];
  const r = new LeReader(path);
  while (r.rest >= 4) {
    const type = r.u8();
    const subtype = r.u8();
    const length = r.u16();
    if (length < 4) throw new DecodeError(`device path node of length ${length}`);
    const body = r.bytes(length - 4);
    if (type === 0x7f && (subtype === 0xff || subtype === 0x01)) {
      if (subtype === 0xff) break;
      parts.push(',');
      continue;
    }
    parts.push(formatNode(type, subtype, body));
  }
  return parts.join('/').replace(/\/,\//g, ',');
}

function formatNode(type: number, subtype: number, b: Buffer): string {
  const u32 = (o: number) => (b.length >= o + 4 ? b.readUInt32LE(o) : 0);
  if (type === 1 && subtype === 1 && b.length >= 2) return `Pci(0x${b[1].toString(16)},0x${b[0].toString(16)})`;
  if (type === 2 && subtype === 1 && b.length >= 8) {
    const hid = u32(0);
    const uid = u32(4);
    if ((hid & 0xffff) === 0x41d0 && (hid >>> 16 === 0x0a03 || hid >>> 16 === 0x0a08)) return `PciRoot(0x${uid.toString(16)})`;
    return `Acpi(0x${hid.toString(16)},0x${uid.toString(16)})`;
  }
  if (type === 3 && subtype === 5 && b.length >= 2) return `USB(0x${b[0].toString(16)},0x${b[1].toString(16)})`;
  if (type === 3 && subtype === 18 && b.length >= 6) return `Sata(0x${b.readUInt16LE(0).toString(16)},0x${b.readUInt16LE(2).toString(16)},0x${b.readUInt16LE(4).toString(16)})`;
  if (type === 3 && subtype === 23 && b.length >= 4) return `NVMe(0x${u32(0).toString(16)})`;
  if (type === 3 && subtype === 2 && b.length >= 4) return `Scsi(0x${b.readUInt16LE(0).toString(16)},0x${b.readUInt16LE(2).toString(16)})`;
  if (type === 4 && subtype === 1 && b.length >= 38) {
    const sig = b[37] === 2 ? formatGuid(b.subarray(20, 36)) : b.subarray(20, 24).readUInt32LE(0).toString(16);
    const format = b[36] === 2 ? 'GPT' : 'MBR';
    return `HD(${u32(0)},${format},${sig},0x${b.readBigUInt64LE(4).toString(16)},0x${b.readBigUInt64LE(12).toString(16)})`;
  }
  if (type === 4 && subtype === 4) return utf16(b);
  if (type === 4 && subtype === 6 && b.length >= 16) return `FvFile(${formatGuid(b.subarray(0, 16))})`;
  if (type === 4 && subtype === 7 && b.length >= 16) return `Fv(${formatGuid(b.subarray(0, 16))})`;
  if (type === 4 && subtype === 8 && b.length >= 20) return `Offset(0x${b.readBigUInt64LE(4).toString(16)},0x${b.readBigUInt64LE(12).toString(16)})`;
  return `Path(${type},${subtype},${b.toString('hex')})`;
}

/** UEFI_GPT_DATA: the partition table header, the number of partitions, the partition entries. */
function decodeGpt(data: Buffer): DecodedEvent {
  const r = new LeReader(data);
  const header = r.bytes(92);
  if (header.subarray(0, 8).toString('latin1') !== 'EFI PART') throw new DecodeError('GPT header signature is not "EFI PART"');
  const diskGuid = formatGuid(header.subarray(56, 72));
  const entrySize = header.readUInt32LE(84);
  if (entrySize < 128 || entrySize > 4096) throw new DecodeError(`GPT entry size ${entrySize}`);
  const count = r.len64();
  if (count * entrySize > r.rest) throw new DecodeError(`${count} GPT entries of ${entrySize} bytes do not fit`);
  const partitions = [];
  for (let i = 0; i < count; i++) {
    const e = r.bytes(entrySize);
    partitions.push({
      type: formatGuid(e.subarray(0, 16)),
      guid: formatGuid(e.subarray(16, 32)),
      firstLba: hex64(e.readBigUInt64LE(32)),
      lastLba: hex64(e.readBigUInt64LE(40)),
      name: utf16(e.subarray(56, 128)),
    });
  }
  return { kind: 'gpt', diskGuid, partitions };
}
