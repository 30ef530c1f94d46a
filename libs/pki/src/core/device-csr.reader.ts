/**
 * The fast path of parseCsr (csr.check.ts): the parts of a certificate request of the one shape
 * nearly every device sends, read straight from its DER bytes.
 *
 * Why this is written by hand (STYLE.md asks for no hand-rolled ASN.1): reading a request
 * through asn1js and @peculiar/asn1-schema builds an object per node and re-encodes the key;
 * that costs about 0.2 ms of CPU and ~100 KB of garbage a request, more than checking its
 * signature, and at 1,000 enrollments a second it was a third of the CSR workers' time (issue
 * 18). This reader decodes no values: it walks tags and lengths of one fixed shape, checks them,
 * and hands back byte ranges (the signed CertificationRequestInfo, the subject, the key, the
 * signature). The signature and the key are checked by node:crypto as before, the key policy and
 * the signature algorithm by the same code as before; the subject is described (when someone
 * asks) by the same schema classes as before.
 *
 * It never refuses anything. For any request it does not recognise in full it answers
 * `undefined`, and the schema parser reads the request and decides, with the error codes it always
 * gave. Recognised, all of it:
 * - strict DER (single-byte tags, definite minimal lengths, no byte after the request);
 * - version 0;
 * - a subject that is a sequence of RDNs, each a non-empty set of (OID, string) pairs, the OIDs
 *   well formed, the strings UTF8String, PrintableString or IA5String of printable ASCII;
 * - an uncompressed P-256 or P-384 key in its one named-curve SubjectPublicKeyInfo form;
 * - no attributes (`[0]` empty);
 * - ecdsa-with-SHA256/384/512 without parameters, and a BIT STRING signature with no unused bits.
 * csr.check.spec.ts checks on thousands of mutated requests that whatever this reader accepts,
 * the schema parser accepts with the same parts.
 */
import { namedCurvePoint } from './public-key.policy';

/** What parseCsr needs of a request, as byte ranges of it. */
export interface CsrParts {
  /** The DER CertificationRequestInfo: the signed bytes. */
  info: Buffer;
  /** The DER Name the request asks for. */
  subject: Buffer;
  /** The DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** Dotted OID of the signature algorithm. */
  signatureAlgorithm: string;
  /** The signature (BIT STRING value without its unused-bits octet). */
  signature: Buffer;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OID = 0x06;
const ATTRIBUTES = 0xa0; // [0] IMPLICIT SET OF Attribute
const NAME_STRINGS = new Set([0x0c, 0x13, 0x16]); // UTF8String, PrintableString, IA5String

/** ecdsa-with-SHA256/384/512 (RFC 5758 3.2), OID content octets (hex) to dotted form. */
const ECDSA_SIGNATURES = new Map([
  ['2a8648ce3d040302', '1.2.840.10045.4.3.2'],
  ['2a8648ce3d040303', '1.2.840.10045.4.3.3'],
  ['2a8648ce3d040304', '1.2.840.10045.4.3.4'],
]);

/** One TLV: its tag, where its content starts and ends, where it ends. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** The TLV at `pos`, lying within `limit`, in DER (definite, minimal length); undefined otherwise. */
function tlvAt(der: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = der[pos];
  if ((tag & 0x1f) === 0x1f) return undefined; // multi-byte tag
  let len = der[pos + 1];
  let start = pos + 2;
  if (len === 0x81) {
    if (start + 1 > limit) return undefined;
    len = der[start];
    if (len < 0x80) return undefined;
    start += 1;
  } else if (len === 0x82) {
    if (start + 2 > limit) return undefined;
    len = (der[start] << 8) | der[start + 1];
    if (len < 0x100) return undefined;
    start += 2;
  } else if (len >= 0x80) {
    return undefined; // indefinite, or longer than any request we take
  }
  const end = start + len;
  return end <= limit ? { tag, start, end } : undefined;
}

/** OID content octets as DER has them: at least one, no subidentifier with a leading 0x80, the last one closed. */
function wellFormedOid(der: Buffer, start: number, end: number): boolean {
  if (end <= start || der[end - 1] & 0x80) return false;
  for (let i = start; i < end; i++) if (der[i] === 0x80 && (i === start || !(der[i - 1] & 0x80))) return false;
  return true;
}

function printableAscii(der: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (der[i] < 0x20 || der[i] > 0x7e) return false;
  return true;
}

/** RDNSequence content: SETs of one or more SEQUENCE { OID, string }. */
function simpleName(der: Buffer, start: number, end: number): boolean {
  for (let pos = start; pos < end; ) {
    const rdn = tlvAt(der, pos, end);
    if (!rdn || rdn.tag !== SET || rdn.start === rdn.end) return false;
    for (let p = rdn.start; p < rdn.end; ) {
      const ava = tlvAt(der, p, rdn.end);
      if (!ava || ava.tag !== SEQUENCE) return false;
      const type = tlvAt(der, ava.start, ava.end);
      if (!type || type.tag !== OID || !wellFormedOid(der, type.start, type.end)) return false;
      const value = tlvAt(der, type.end, ava.end);
      if (!value || !NAME_STRINGS.has(value.tag) || value.end !== ava.end || !printableAscii(der, value.start, value.end)) return false;
      p = ava.end;
    }
    pos = rdn.end;
  }
  return true;
}

/** The parts of a request of the device shape (see the top of this file); undefined for anything else. */
export function readDeviceCsr(der: Buffer): CsrParts | undefined {
  const request = tlvAt(der, 0, der.length);
  if (!request || request.tag !== SEQUENCE || request.end !== der.length) return undefined;

  const info = tlvAt(der, request.start, request.end);
  if (!info || info.tag !== SEQUENCE) return undefined;
  const version = tlvAt(der, info.start, info.end);
  if (!version || version.tag !== INTEGER || version.end - version.start !== 1 || der[version.start] !== 0) return undefined;
  const subject = tlvAt(der, version.end, info.end);
  if (!subject || subject.tag !== SEQUENCE || !simpleName(der, subject.start, subject.end)) return undefined;
  const spkiTlv = tlvAt(der, subject.end, info.end);
  if (!spkiTlv || spkiTlv.tag !== SEQUENCE) return undefined;
  const spkiStart = subject.end;
  const spki = der.subarray(spkiStart, spkiTlv.end);
  if (!namedCurvePoint(spki)) return undefined;
  const attributes = tlvAt(der, spkiTlv.end, info.end);
  if (!attributes || attributes.tag !== ATTRIBUTES || attributes.start !== attributes.end || attributes.end !== info.end) return undefined;

  const algorithm = tlvAt(der, info.end, request.end);
  if (!algorithm || algorithm.tag !== SEQUENCE) return undefined;
  const oid = tlvAt(der, algorithm.start, algorithm.end);
  if (!oid || oid.tag !== OID || oid.end !== algorithm.end) return undefined;
  const signatureAlgorithm = ECDSA_SIGNATURES.get(der.toString('hex', oid.start, oid.end));
  if (!signatureAlgorithm) return undefined;
  const signature = tlvAt(der, algorithm.end, request.end);
  if (!signature || signature.tag !== BIT_STRING || signature.end !== request.end || signature.end - signature.start < 2 || der[signature.start] !== 0) return undefined;

  return {
    info: der.subarray(request.start, info.end),
    subject: der.subarray(version.end, subject.end),
    spki,
    signatureAlgorithm,
    signature: der.subarray(signature.start + 1, signature.end),
  };
}
