import { randomFillSync, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { McubootImageWriter } from '@fleetguard/firmware';

const MiB = 1 << 20;

/** Writes a signed MCUboot image of `sizeMiB` random body bytes to `file`, streaming (never the whole image in memory). */
export function writeMcubootImageFile(file: string, sizeMiB: number, privateKey: KeyObject, version: string, securityCounter: number): void {
  const bodySize = Math.round(sizeMiB * MiB);
  const writer = new McubootImageWriter(bodySize, { version, securityCounter, headerSize: 0x200 }, privateKey);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, writer.header());
    const chunk = Buffer.alloc(MiB);
    for (let left = bodySize; left > 0; left -= chunk.length) {
      const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
      randomFillSync(part);
      writer.update(part);
      writeSync(fd, part);
    }
    writeSync(fd, writer.trailer());
    fsyncSync(fd); // no writeback of dirty pages competing with the timed runs
  } finally {
    closeSync(fd);
  }
}
