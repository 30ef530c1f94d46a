/**
 * RFC 9711 (EAT) section 4.2.1: the Universal Entity ID. A UEID is a byte string of 7 to 33
 * bytes whose first byte says how the rest was made:
 *   0x01 RAND      16, 24 or 32 random bytes (128/192/256 bits; never fewer than 128) → 17, 25, 33
 *   0x02 IEEE EUI  an EUI-48 (6 bytes) or an EUI-60/EUI-64 (8 bytes)                    → 7, 9
 *   0x03 IMEI      the 14 IMEI digits, one digit value (0..9) per byte, no Luhn digit   → 15
 * In a JWT (`ueid`, and each value of the `sueids` map) it is base64url text without padding
 * (the RFC's `JC<base64-url-text .size (10..44), bstr .size (7..33)>`).
 *
 * The RFC gives rules to its two sides: the creator follows the table above; a consumer "MUST
 * treat it as a completely opaque string of bytes". So: at enrollment (where Fleetguard records
 * what a manufacturer created) the creation rules are enforced; in evidence the syntax is enforced
 * and the bytes are compared, as bytes, with the enrolled UEID. (In common: enrollment in fleet
 * and appraisal in attestation both read it.)
 */

export const UEID_MIN_BYTES = 7;
export const UEID_MAX_BYTES = 33;
export const UEID_TYPE = { RAND: 0x01, EUI: 0x02, IMEI: 0x03 } as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes the JSON form (base64url, no padding) to the UEID's bytes, checking only the syntax of RFC 9711's CDDL; null when it is not that form. */
export function decodeUeidText(text: string): Buffer | null {
  if (text.length < 10 || text.length > 44 || !BASE64URL.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  // Reject non-canonical text (trailing bits set): it would name the same bytes in two spellings.
  if (bytes.toString('base64url') !== text) return null;
  if (bytes.length < UEID_MIN_BYTES || bytes.length > UEID_MAX_BYTES) return null;
  return bytes;
}

export function encodeUeidText(ueid: Buffer): string {
  return ueid.toString('base64url');
}

/** The creation rules of RFC 9711 Table 1: null when `ueid` follows them, else why not. */
export function ueidCreationProblem(ueid: Buffer): string | null {
  if (ueid.length < UEID_MIN_BYTES || ueid.length > UEID_MAX_BYTES) return `a UEID is 7 to 33 bytes, not ${ueid.length}`;
  const type = ueid[0];
  const body = ueid.length - 1;
  switch (type) {
    case UEID_TYPE.RAND:
      return body === 16 || body === 24 || body === 32 ? null : `a RAND UEID (type 0x01) carries 16, 24 or 32 random bytes, not ${body}`;
    case UEID_TYPE.EUI:
      return body === 6 || body === 8 ? null : `an IEEE EUI UEID (type 0x02) carries an EUI-48 (6 bytes) or EUI-64 (8 bytes), not ${body} bytes`;
    case UEID_TYPE.IMEI:
      if (body !== 14) return `an IMEI UEID (type 0x03) carries the 14 IMEI digits (no check digit), not ${body} bytes`;
      for (let i = 1; i < ueid.length; i++) if (ueid[i] > 9) return `an IMEI UEID (type 0x03) has one digit value (0..9) per byte; byte ${i} is 0x${ueid[i].toString(16).padStart(2, '0')}`;
      return null;
    default:
      return `UEID type 0x${type.toString(16).padStart(2, '0')} is not one RFC 9711 defines (0x01 RAND, 0x02 IEEE EUI, 0x03 IMEI)`;
  }
}

/** A UEID as a manufacturer's tool writes it at enrollment: hex, optionally with ':' or '-' between bytes. Creation rules enforced. */
export function parseUeidHex(input: string): { ueid: Buffer } | { problem: string } {
  const hex = input.trim().replace(/[:-]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex) || hex.length < 2 * UEID_MIN_BYTES || hex.length > 2 * UEID_MAX_BYTES) {
    return { problem: 'a UEID is written as hex: 7 to 33 bytes (14 to 66 hex digits), type byte first' };
  }
  const bytes = Buffer.from(hex, 'hex');
  const problem = ueidCreationProblem(bytes);
  return problem ? { problem } : { ueid: bytes };
}

/** The IMEI UEID for a 14-digit IMEI (a 15-digit one loses its Luhn check digit, which the RFC excludes). */
export function imeiUeid(imei: string): Buffer {
  const digits = imei.replace(/[\s-]/g, '');
  if (!/^\d{14,15}$/.test(digits)) throw new Error('an IMEI is 14 digits (15 with the check digit)');
  return Buffer.from([UEID_TYPE.IMEI, ...digits.slice(0, 14).split('').map(Number)]);
}
