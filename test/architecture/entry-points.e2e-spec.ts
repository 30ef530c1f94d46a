/**
 * Each lib's root entry (@fleetguard/<lib>) is its core: loading it, as the CLI, the device
 * simulator and other libs' cores do, loads neither Nest nor TypeORM. The device kit likewise.
 * Checked on the built dist (npm test builds first), in a fresh Node process per entry.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const libs = fs.readdirSync(path.join(ROOT, 'libs')).filter((l) => fs.existsSync(path.join(ROOT, 'libs', l, 'src', 'index.ts')));

/** The packages under node_modules that loading `entry` pulls in. */
function packagesLoadedBy(entry: string): string[] {
  const script = `require(${JSON.stringify(entry)});
    const pk = new Set();
    for (const f of Object.keys(require.cache)) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f); if (m) pk.add(m[1]); }
    process.stdout.write(JSON.stringify([...pk].sort()));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }));
}

describe('entry points', () => {
  it.each(libs)('@fleetguard/%s (the core) loads neither Nest nor TypeORM', (lib) => {
    const entry = path.join(ROOT, 'dist', 'libs', lib, 'src', 'index.js');
    const loaded = packagesLoadedBy(entry);
    expect(loaded.filter((p) => p.startsWith('@nestjs/') || p === 'typeorm' || p === 'typeorm-pglite')).toEqual([]);
  });

  it('a Nest entry does load Nest (so the check above can fail)', () => {
    expect(packagesLoadedBy(path.join(ROOT, 'dist', 'libs', 'broker', 'src', 'nest', 'index.js'))).toContain('@nestjs/common');
  });
});
