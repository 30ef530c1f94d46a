/**
 * `npm run bench:firmware`: the library bench (firmware-lib.js: verifyMcubootStream on a file)
 * and then the HTTP upload bench (firmware-http.js: the same kind of image through
 * `POST /api/v1/products/:id/firmware`), each with the options given here, e.g.
 *
 *   npm run bench:firmware -- --size-mib 256
 *
 * Each prints its own JSON line and summary; the exit code is non-zero if either fails.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const args = process.argv.slice(2);
let failed = false;
for (const bench of ['firmware-lib.js', 'firmware-http.js']) {
  const run = spawnSync(process.execPath, [join(__dirname, bench), ...args], { stdio: 'inherit' });
  if (run.status !== 0) {
    process.stderr.write(`${bench} failed (${run.status ?? run.signal})\n`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
