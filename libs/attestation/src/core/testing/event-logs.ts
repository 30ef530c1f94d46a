import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * ../shared/data/eventlogs beside the repository root (CI clones the repo with shared/ next to
 * it). The root is the nearest ancestor with package.json, so this works from src and dist.
 */
export function eventLogDirectory(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) || existsSync(join(dir, '..', 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, '..', 'shared', 'data', 'eventlogs');
}

/** The real logs, by file name (e.g. `ubuntu-qemu.bin`). */
export function realEventLogs(): { name: string; bytes: Buffer }[] {
  const dir = eventLogDirectory();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

export function realEventLog(name: string): Buffer {
  return readFileSync(join(eventLogDirectory(), name));
}
