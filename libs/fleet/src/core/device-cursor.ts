import { invalid } from '@fleetguard/common';

/**
 * Page cursors for the device list: an opaque base64url token over the position in `devices.seq`
 * (a bigserial that only grows). Keyset pagination (`WHERE seq > :after ORDER BY seq LIMIT n`)
 * returns every device that existed when paging began exactly once, however many devices are
 * added meanwhile: new rows take higher seq values and can only show up on later pages. The seq is
 * kept as a decimal string so a bigint never loses precision.
 */
const PREFIX = 'd1:';
const SEQ = /^(0|[1-9]\d{0,18})$/;

export function encodeDeviceCursor(afterSeq: string | number | bigint): string {
  const seq = String(afterSeq);
  if (!SEQ.test(seq)) throw new RangeError(`not a device seq: ${seq}`);
  return Buffer.from(PREFIX + seq, 'utf8').toString('base64url');
}

/** The seq after which the next page starts; a cursor that is not one of ours is a 400. */
export function decodeDeviceCursor(cursor: string): string {
  const bad = () => invalid('device.bad-cursor', 'cursor is not a device list cursor (pass the "next" value of the previous page unchanged)');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) throw bad();
  const seq = text.slice(PREFIX.length);
  if (!SEQ.test(seq) || BigInt(seq) > 9223372036854775807n) throw bad();
  return seq;
}
