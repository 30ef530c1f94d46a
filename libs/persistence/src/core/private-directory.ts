import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The embedded database's files are the database: no other local user may read or write them
 * (finding 8: PGlite wrote 0666 files under a 0755 directory, so anyone could insert an admin key
 * hash). The directory is made 0700 (created so, and tightened if it exists); with `recursive`,
 * what is inside is tightened too (files 0600, directories 0700), for installs made before.
 */
export function privateDirectory(dir: string, recursive = false): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  if (!recursive) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) privateDirectory(p, true);
    else if (entry.isFile()) fs.chmodSync(p, 0o600);
  }
}
