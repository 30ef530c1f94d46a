import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * `n` fresh bytes from the platform's CSPRNG (randomFillSync), taken from a 4 KiB block filled at
 * once: each call to the CSPRNG costs several microseconds on the event loop whatever its size,
 * and at 1,000 enrollments a second every one takes two (a device id, a serial). Every byte is
 * handed out once and copied out (the block is never shared with a caller).
 */
export function pooledRandomBytes(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > POOL_BYTES) throw new RangeError(`pooledRandomBytes: 0..${POOL_BYTES} bytes`);
  if (offset + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
