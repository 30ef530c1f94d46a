/**
 * Certificate serial numbers (RFC 5280 4.1.2.2: positive, at most 20 octets; CA/B practice: at
 * least 64 random bits). Ours are 16 random octets with the top bit cleared, so the INTEGER is
 * positive and needs no padding octet, and with a non-zero first octet, so it always encodes as
 * exactly 16 octets: 127 bits of randomness, shown as 32 lowercase hex digits.
 */
import { invalid, pooledRandomBytes } from '@fleetguard/common';

export const SERIAL_BYTES = 16;

export interface SerialNumber {
  bytes: Buffer;
  hex: string;
}

export function randomSerialNumber(): SerialNumber {
  for (;;) {
    const bytes = pooledRandomBytes(SERIAL_BYTES);
    bytes[0] &= 0x7f;
    if (bytes[0] !== 0) return { bytes, hex: bytes.toString('hex') };
  }
}

/**
 * Reads a serial given as hex (any case, optional ':' separators, as `openssl x509 -serial` or a
 * colon-separated dump prints it) into its canonical form: the minimal positive two's-complement
 * octets (a 0x00 prefix only when the top bit would otherwise be set) and lowercase hex of the
 * number without that prefix. Throws `<prefix>.bad-serial` for anything else.
 */
export function parseSerialHex(input: string, errorPrefix = 'crl'): SerialNumber & { integer: Buffer } {
  const compact = typeof input === 'string' ? input.replace(/:/g, '') : '';
  const badSerial = () =>
    invalid(`${errorPrefix}.bad-serial`, `Serial number must be a positive integer of at most 20 octets, in hex; got ${JSON.stringify(input)}`);
  if (!/^[0-9a-fA-F]{1,42}$/.test(compact)) throw badSerial();
  let bytes = Buffer.from(compact.length % 2 ? `0${compact}` : compact, 'hex');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 1 && bytes[0] === 0) throw badSerial();
  const integer = bytes[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes]) : Buffer.from(bytes);
  if (integer.length > 20) throw badSerial();
  return { bytes: Buffer.from(bytes), hex: bytes.toString('hex'), integer };
}
