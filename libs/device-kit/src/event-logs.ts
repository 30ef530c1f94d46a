import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * ../shared/data/eventlogs beside the repository root (CI clones the repo with shared/ next to
 * it). The root is the nearest ancestor with package.json, so this works from src and dist. A
 * git worktree kept one level further down (wt/<branch>) finds the same shared/ beside an
 * ancestor of the root; the first one found wins, so CI's layout is unchanged.
 */
export function eventLogDirectory(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) || existsSync(join(dir, '..', 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const beside = join(dir, '..', 'shared', 'data', 'eventlogs');
  for (let up = dirname(dir); !existsSync(beside); ) {
    const candidate = join(up, '..', 'shared', 'data', 'eventlogs');
    if (existsSync(candidate)) return candidate;
    if (dirname(up) === up) break;
    up = dirname(up);
  }
  return beside;
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
