/**
 * Turns what callers hand us (PEM text, raw DER, or base64 DER as EST bodies carry it, with or
 * without line breaks) into DER bytes, and back into PEM (written by @peculiar/x509's
 * PemConverter). Only the armour is handled here: the bytes inside are parsed by
 * @peculiar/asn1-schema elsewhere. Reading stays strict and our own: PemConverter's reader skips
 * what it does not recognize, where a caller here must be told why its input is refused.
 *
 * Every failure is a DomainError (`<prefix>.malformed` or `<prefix>.too-large`), never a
 * TypeError or a silently truncated buffer: Node's base64 decoder skips characters it does not
 * know, so the alphabet is checked before decoding.
 */
import { DomainError, invalid } from '@fleetguard/common';
import { x509 } from './x509.platform';

export type DerInput = string | Buffer | Uint8Array;

export interface DerInputOptions {
  /** Accepted PEM labels, e.g. ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']. */
  pemLabels: readonly string[];
  /** Error code prefix: `csr` gives `csr.malformed` and `csr.too-large`. */
  errorPrefix: string;
  /** What the input is, for messages ("certificate request"). */
  what: string;
  /** Largest accepted input, in bytes of text or DER. */
  maxBytes: number;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const DER_SEQUENCE = 0x30;

export function decodeDerInput(input: DerInput, options: DerInputOptions): Buffer {
  const malformed = (reason: string) =>
    invalid(`${options.errorPrefix}.malformed`, `Malformed ${options.what}: ${reason}`);
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw malformed('expected PEM text, DER bytes or base64 DER');
  }
  if (input.length === 0) throw malformed('empty input');
  if (input.length > options.maxBytes * 2) throw tooLarge(options);

  const bytes = typeof input === 'string' ? null : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // Raw DER: a SEQUENCE tag first. Base64 of a SEQUENCE starts with 'M', and PEM with '-', so the
  // first byte tells the three apart without guessing.
  if (bytes && bytes[0] === DER_SEQUENCE) return checkSize(Buffer.from(bytes), options);

  const text = typeof input === 'string' ? input : bytes!.toString('latin1');
  const der = text.includes('-----BEGIN') ? decodePem(text, options, malformed) : decodeBase64(text, malformed);
  if (der.length === 0) throw malformed('no data');
  if (der[0] !== DER_SEQUENCE) throw malformed('not a DER SEQUENCE');
  return checkSize(der, options);
}

/** Strict base64 (RFC 4648 alphabet), tolerant of whitespace and line breaks anywhere. */
export function decodeBase64(text: string, malformed: (reason: string) => DomainError): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw malformed('empty input');
  if (!BASE64_BODY.test(compact)) throw malformed('not base64');
  if (compact.length % 4 === 1) throw malformed('truncated base64');
  return Buffer.from(compact, 'base64');
}

function decodePem(text: string, options: DerInputOptions, malformed: (reason: string) => DomainError): Buffer {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw malformed('unterminated PEM block');
  if (blocks.length > 1) throw malformed('more than one PEM block');
  const [whole, begin, body, end] = blocks[0];
  if (begin !== end) throw malformed(`PEM BEGIN ${begin} does not match END ${end}`);
  if (!options.pemLabels.includes(begin)) {
    throw malformed(`expected a PEM block labelled ${options.pemLabels.join(' or ')}, got ${begin}`);
  }
  const outside = text.replace(whole, '');
  if (outside.includes('-----')) throw malformed('stray PEM armour');
  if (body.includes(':')) throw malformed('PEM headers are not supported');
  return decodeBase64(body, malformed);
}

function checkSize(der: Buffer, options: DerInputOptions): Buffer {
  if (der.length > options.maxBytes) throw tooLarge(options);
  return der;
}

function tooLarge(options: DerInputOptions): DomainError {
  return new DomainError(
    `${options.errorPrefix}.too-large`,
    `The ${options.what} is larger than ${options.maxBytes} bytes`,
    'too-large',
  );
}

/** PEM armour with 64-character lines and a trailing newline (RFC 7468 strict form). */
export function pemEncode(der: Uint8Array, label: string): string {
  return `${x509.PemConverter.encode(toArrayBuffer(der), label)}\n`;
}

/** Splits base64 text into lines of `width` characters, each ended by `eol`. */
export function wrapLines(text: string, width: number, eol: string): string {
  let out = '';
  for (let i = 0; i < text.length; i += width) out += text.slice(i, i + width) + eol;
  return out;
}

/** Copies a Node Buffer (or any view) into a standalone ArrayBuffer, as asn1-schema wants. */
export function toArrayBuffer(view: Uint8Array): ArrayBuffer {
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}
