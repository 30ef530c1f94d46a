/**
 * Linux IMA runtime measurements, as /sys/kernel/security/ima/ascii_runtime_measurements
 * prints them: `<pcr> <template-hash> <template> <fields...>`, one entry a line, for the
 * templates `ima-ng` (`<alg>:<file digest> <path>`), `ima-sig` (the same, then the signature
 * in hex when the file has one) and `ima` (`<sha1 file digest> <path>`).
 *
 * The template data is rebuilt from the fields exactly as the kernel hashed it
 * (security/integrity/ima/ima_template_lib.c): ima-ng/ima-sig fields are u32 little-endian
 * length-prefixed (`<alg>:\0<digest>`, `<path>\0`, the signature); the old `ima` template is
 * the 20-byte digest and the path zero-padded to 256 bytes. The SHA-1 of it must equal the
 * template hash the line shows (so the text is what was measured). PCR 10 replays per bank:
 * SHA-1 extends the template hash, SHA-256 the SHA-256 of the template data (the kernel does
 * this for every allocated bank since Linux 5.8). A violation (template hash all zeros) extends
 * all ones, as the kernel does.
 */
import { createHash } from 'node:crypto';
import { DomainError, invalid } from '@fleetguard/common';

export const MAX_IMA_ENTRIES = 100_000;
export const MAX_IMA_LINE = 8192;
export const IMA_PCR = 10;

export type ImaTemplate = 'ima-ng' | 'ima-sig' | 'ima';

export interface ImaEntry {
  /** Position in this text (0-based); add the evidence's offset for the position in the device's list. */
  line: number;
  pcr: number;
  templateHash: string;
  template: ImaTemplate;
  /** File digest algorithm (`sha1` for the `ima` template). */
  alg: string;
  /** File digest, lowercase hex. */
  digest: string;
  path: string;
  signature?: string;
  /** The template hash is all zeros: the kernel recorded a measurement violation. */
  violation: boolean;
  /** SHA-256 of the template data (what the sha256 bank extends). */
  templateSha256: string;
}

const HEX = /^[0-9a-f]+$/;
const DIGEST_SIZES: Record<string, number> = { md5: 16, sha1: 20, sha256: 32, sha384: 48, sha512: 64, sm3: 32, 'sm3-256': 32 };

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
const field = (b: Buffer) => Buffer.concat([u32le(b.length), b]);

const refuse = (line: number, message: string): DomainError => invalid('ima-log-malformed', `IMA measurement list line ${line + 1}: ${message}`);

/** Parses the text of ascii_runtime_measurements. Throws DomainError `ima-log-malformed` / `ima-log-too-large`. */
export function parseImaMeasurementList(text: string): ImaEntry[] {
  if (typeof text !== 'string') throw invalid('ima-log-malformed', 'IMA measurement list must be text');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MAX_IMA_ENTRIES) throw new DomainError('ima-log-too-large', `IMA measurement list has more than ${MAX_IMA_ENTRIES} entries`, 'too-large');
  return lines.map((raw, i) => parseLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw, i));
}

function parseLine(line: string, i: number): ImaEntry {
  if (line.length > MAX_IMA_LINE) throw refuse(i, `longer than ${MAX_IMA_LINE} characters`);
  const m = /^(\d{1,2}) ([0-9a-f]{40}) (ima-ng|ima-sig|ima) (\S+) (.+)$/.exec(line);
  if (!m) throw refuse(i, 'is not `<pcr> <sha1 template hash> <ima-ng|ima-sig|ima> <digest> <path>`');
  const pcr = Number(m[1]);
  if (pcr > 23) throw refuse(i, `PCR ${pcr} is beyond PCR 23`);
  const templateHash = m[2];
  const template = m[3] as ImaTemplate;
  let alg: string;
  let digestHex: string;
  let path = m[5];
  let signature: string | undefined;
  let data: Buffer;
  if (template === 'ima') {
    alg = 'sha1';
    digestHex = m[4];
    if (!/^[0-9a-f]{40}$/.test(digestHex)) throw refuse(i, 'an `ima` entry needs a 40-hex-digit SHA-1 file digest');
    const name = Buffer.from(path, 'utf8');
    if (name.length > 255) throw refuse(i, 'an `ima` entry path is longer than 255 bytes');
    data = Buffer.concat([Buffer.from(digestHex, 'hex'), name, Buffer.alloc(256 - name.length)]);
  } else {
    const d = /^([a-z0-9-]+):([0-9a-f]+)$/.exec(m[4]);
    if (!d) throw refuse(i, 'the file digest must be `<alg>:<hex>`');
    alg = d[1];
    digestHex = d[2];
    const size = DIGEST_SIZES[alg];
    if (size === undefined || digestHex.length !== size * 2) throw refuse(i, `file digest ${alg}:${digestHex.slice(0, 16)}.. is not a known algorithm of the right length`);
    if (template === 'ima-sig') {
      const last = path.lastIndexOf(' ');
      const tail = last > 0 ? path.slice(last + 1) : '';
      // An IMA signature (EVM_IMA_XATTR_DIGSIG, type 3) in hex; a path may contain spaces.
      if (tail.startsWith('03') && tail.length % 2 === 0 && HEX.test(tail)) {
        signature = tail;
        path = path.slice(0, last);
      }
    }
    const parts = [field(Buffer.concat([Buffer.from(`${alg}:\0`, 'latin1'), Buffer.from(digestHex, 'hex')])), field(Buffer.concat([Buffer.from(path, 'utf8'), Buffer.from([0])]))];
    if (template === 'ima-sig') parts.push(field(signature ? Buffer.from(signature, 'hex') : Buffer.alloc(0)));
    data = Buffer.concat(parts);
  }
  const violation = /^0{40}$/.test(templateHash);
  if (!violation && createHash('sha1').update(data).digest('hex') !== templateHash) {
    throw refuse(i, `template hash ${templateHash.slice(0, 16)}.. is not the SHA-1 of the entry's fields (the line was altered)`);
  }
  return { line: i, pcr, templateHash, template, alg, digest: digestHex, path, ...(signature ? { signature } : {}), violation, templateSha256: createHash('sha256').update(data).digest('hex') };
}

export type ImaPcr10 = { sha1: string; sha256: string };
export const ZERO_IMA_PCR10: ImaPcr10 = { sha1: '0'.repeat(40), sha256: '0'.repeat(64) };

/** Extends `entries` (PCR 10 ones) into `start`: the running PCR 10 in the sha1 and sha256 banks. */
export function replayImaPcr10(entries: readonly ImaEntry[], start: ImaPcr10 = ZERO_IMA_PCR10): ImaPcr10 {
  let sha1 = Buffer.from(start.sha1, 'hex');
  let sha256 = Buffer.from(start.sha256, 'hex');
  for (const e of entries) {
    if (e.pcr !== IMA_PCR) continue;
    const d1 = e.violation ? Buffer.alloc(20, 0xff) : Buffer.from(e.templateHash, 'hex');
    const d256 = e.violation ? Buffer.alloc(32, 0xff) : Buffer.from(e.templateSha256, 'hex');
    sha1 = createHash('sha1').update(sha1).update(d1).digest();
    sha256 = createHash('sha256').update(sha256).update(d256).digest();
  }
  return { sha1: sha1.toString('hex'), sha256: sha256.toString('hex') };
}

/** One ascii_runtime_measurements line for an ima-ng entry, as the kernel would print it (device-sim, tests). */
export function formatImaNgLine(path: string, fileSha256: string): string {
  const data = Buffer.concat([field(Buffer.concat([Buffer.from('sha256:\0', 'latin1'), Buffer.from(fileSha256, 'hex')])), field(Buffer.concat([Buffer.from(path, 'utf8'), Buffer.from([0])]))]);
  return `10 ${createHash('sha1').update(data).digest('hex')} ima-ng sha256:${fileSha256} ${path}`;
}
