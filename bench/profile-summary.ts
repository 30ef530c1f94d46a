/**
 * Where the time went in V8 CPU profiles (`node --cpu-prof`, one .cpuprofile per thread): self
 * time per package and per function, inside the timed phase of a bench.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/enroll.js --no-pkcs11
 *   node dist/bench/profile-summary.js --from <µs> --to <µs> [--top 30] /tmp/prof/*.cpuprofile
 *
 * `--from`/`--to`: the bench's `timedWindowMonotonicUs` (profiles time their samples on the same
 * monotonic clock). The profiler samples wall time: on a loaded machine a thread that waits for
 * a core is still counted as busy, so compare shares within a thread, and take CPU time per
 * thread from the bench's own figures.
 */
import * as fs from 'node:fs';
import { numberArg, positionalArgs } from './support/measure';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const SPECIAL_FRAMES = new Map([
  ['(idle)', '(idle)'],
  ['(garbage collector)', '(gc)'],
  ['(program)', '(program)'],
]);

/** The package a frame belongs to: node_modules/<pkg>, node:<module>, the repository's lib or app, or V8's own entries. */
function packageOf(frame: ProfileNode['callFrame']): string {
  const special = SPECIAL_FRAMES.get(frame.functionName);
  if (special) return special;
  const url = frame.url;
  if (!url) return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = /\/dist\/((?:libs|apps)\/[^/]+|[^/]+)/.exec(url);
  return own ? own[1] : url;
}

function summarize(file: string, from: number, to: number, top: number): string[] {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < from || t > to) continue;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '')}:${f.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const pkg = packageOf(f);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busy = [...byPackage].filter(([k]) => k !== '(idle)').reduce((a, [, v]) => a + v, 0);
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${(v / 1e3).toFixed(1).padStart(8)} ms ${((100 * v) / Math.max(busy, 1)).toFixed(1).padStart(5)}%  ${k}`);
  return [`${file}: ${(busy / 1e3).toFixed(0)} ms busy in the window`, ' by package:', ...rows(byPackage, 20), ' by function (self time):', ...rows(byFunction, top)];
}

const from = numberArg('from', 0, { min: 0 });
const to = numberArg('to', Number.MAX_SAFE_INTEGER, { min: 0 });
const top = numberArg('top', 30, { integer: true, min: 1 });
// The values of --from, --to and --top come back as positionals too (see positionalArgs): the profiles are the .cpuprofile files.
const files = positionalArgs().filter((a) => a.endsWith('.cpuprofile'));
if (!files.length) {
  process.stderr.write('usage: node dist/bench/profile-summary.js [--from µs --to µs] [--top N] <file.cpuprofile>...\n');
  process.exitCode = 1;
}
for (const f of files) process.stdout.write(summarize(f, from, to, top).join('\n') + '\n');
