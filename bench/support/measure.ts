/**
 * Small measuring tools shared by the end-to-end benches: argv options, percentiles, where the CPU
 * went during a phase (this process, PostgreSQL, everything else on the machine), RSS sampling,
 * and the output convention (one JSON line, then a one-line summary).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { performance, EventLoopUtilization } from 'node:perf_hooks';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Worker } from 'node:worker_threads';

/* ------------------------------------------------------------------ options */

/**
 * The command line as node:util's parseArgs reads it (`--name value`, `--name=value`, flags,
 * positionals), one option asked for at a time. Not strict: `bench:firmware` hands the same
 * options to two benches, each of which takes only its own.
 */
function commandLine(options: NonNullable<ParseArgsConfig['options']>) {
  return parseArgs({ args: process.argv.slice(2), options, strict: false, allowPositionals: true });
}

export function stringArg(name: string): string | undefined {
  const value = commandLine({ [name]: { type: 'string' } }).values[name];
  if (value !== undefined && typeof value !== 'string') throw new Error(`--${name} needs a value`);
  return value;
}

export function numberArg(name: string, fallback: number, opts: { integer?: boolean; min?: number } = {}): number {
  const raw = stringArg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const min = opts.min ?? Number.MIN_VALUE;
  if (!Number.isFinite(value) || value < min || (opts.integer && !Number.isInteger(value))) {
    throw new Error(`--${name} needs ${opts.integer ? 'an integer' : 'a number'} >= ${min === Number.MIN_VALUE ? '> 0' : min}`);
  }
  return value;
}

export function flagArg(name: string): boolean {
  return commandLine({ [name]: { type: 'boolean' } }).values[name] === true;
}

/** The arguments that are not options, in order (the benches that take these take flags only: a value given to an option would count as one). */
export function positionalArgs(): string[] {
  return commandLine({}).positionals;
}

/* ------------------------------------------------------------------ statistics */

/** Nearest-rank percentile of ascending `sorted`; `undefined` for an empty list. */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (!sorted.length) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function round(value: number | undefined, digits = 1): number | null {
  if (value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** p50/p90/p99/max in ms (3 significant decimals) of a list of ms values. */
export function latencySummary(values: ArrayLike<number>): { count: number; p50: number | null; p90: number | null; p99: number | null; max: number | null } {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(percentile(sorted, 100), 2),
  };
}

/** Absolute high-resolution time in ms, comparable across worker threads of this process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/* ------------------------------------------------------------------ CPU accounting */

const CLK_TCK = 100; // USER_HZ on Linux

function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * CPU ticks spent by PostgreSQL (server and backends, every `postgres` process on the machine)
 * while the meter runs. /proc is scanned every 250 ms by a small worker thread of its own (so the
 * scan costs the service's event loop nothing), which adds up per-pid increases: backends that
 * exit meanwhile are counted up to their last scan.
 */
const POSTGRES_SAMPLER = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const total = new Float64Array(workerData.shared);
try { total[1] = Number(fs.readlinkSync('/proc/thread-self').split('/').pop()) || 0; } catch {}
const only = workerData.pids ? new Set(workerData.pids.map(String)) : null;
const known = new Map();
let last = new Map();
function scan() {
  let pids;
  try { pids = fs.readdirSync('/proc'); } catch { return null; }
  const now = new Map();
  for (const pid of pids) {
    if (known.get(pid) === false || !/^[0-9]+$/.test(pid) || (only && !only.has(pid))) continue;
    let stat;
    try { stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); } catch { continue; }
    const close = stat.lastIndexOf(')');
    if (!known.has(pid)) known.set(pid, stat.slice(stat.indexOf('(') + 1, close) === 'postgres');
    if (!known.get(pid)) continue;
    const f = stat.slice(close + 2).split(' ');
    now.set(pid, Number(f[11]) + Number(f[12]));
  }
  return now;
}
last = scan() ?? new Map();
setInterval(() => {
  const now = scan();
  if (!now) return;
  let add = 0;
  for (const [pid, ticks] of now) add += Math.max(0, ticks - (last.get(pid) ?? 0));
  last = now;
  total[0] += add;
}, 250);
`;

/** CPU ticks of PostgreSQL processes while it runs: all of them, or only those of `pids` (e.g. one database's backends). */
export function postgresMeter(pids?: number[]): () => number | null {
  if (!fs.existsSync('/proc/self/stat')) return () => null;
  const shared = new SharedArrayBuffer(16);
  const total = new Float64Array(shared);
  const worker = new Worker(POSTGRES_SAMPLER, { eval: true, workerData: { shared, pids } });
  worker.unref();
  return () => {
    if (total[1]) meterThreads.add(total[1]);
    void worker.terminate();
    return total[0];
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc; null if it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) one thread of this process has used so far (Linux /proc/self/task); null elsewhere. */
export function threadCpuSeconds(tid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** The kernel's id of the calling thread (Linux /proc/thread-self; the main thread's is the pid); null elsewhere. */
export function currentThreadId(): number | null {
  try {
    return Number(fs.readlinkSync('/proc/thread-self').split('/').pop()) || null;
  } catch {
    return null;
  }
}

/** Kernel ids of this process's threads now (Linux /proc/self/task); empty elsewhere. */
export function threadIds(): number[] {
  try {
    return fs.readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

/** Threads of the benches' own meters (the PostgreSQL sampler), kept out of the service's figures. */
const meterThreads = new Set<number>();

/**
 * CPU time per item of the main thread (the service), of the given threads (e.g. a bench's
 * clients) and of the rest of this process (other workers, libuv and V8 helper threads): on a
 * shared machine this says what the service spends, whatever share of the cores it was given.
 *
 * With `startupThreads` (threadIds() taken when the process started, before any worker: the main
 * thread and V8's platform threads, which compile optimised code and help the garbage collector
 * for every isolate), the rest is split into `v8Helpers` and `workers` (threads started later:
 * the service's worker threads, libuv's pool); `otherThreads` stays their sum (with any thread
 * that ended meanwhile).
 */
export function threadCpuMeter(threads: Record<string, number | null>, startupThreads?: ReadonlySet<number>): (items: number) => Record<string, number | null> {
  const tasks = () => new Map(threadIds().map((tid) => [tid, threadCpuSeconds(tid)]));
  const read = () => ({
    process: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    main: threadCpuSeconds(process.pid),
    ...Object.fromEntries(Object.entries(threads).map(([k, tid]) => [k, tid === null ? null : threadCpuSeconds(tid)])),
  });
  const before: Record<string, number | null> = read();
  const tasksBefore = startupThreads ? tasks() : undefined;
  return (items) => {
    const after: Record<string, number | null> = read();
    const spent = (k: string) => (after[k] === null || before[k] === null ? null : after[k]! - before[k]!);
    const named = Object.keys(threads).map((k) => spent(k));
    const main = spent('main');
    const rest = main === null || named.some((v) => v === null) ? null : spent('process')! - main - named.reduce((a, b) => a! + b!, 0)!;
    const perItem = (v: number | null) => (v === null ? null : round((v * 1000) / Math.max(items, 1), 2));
    const split: Record<string, number | null> = {};
    if (startupThreads && tasksBefore) {
      const known = new Set<number>([process.pid, ...(Object.values(threads).filter((t) => t !== null) as number[]), ...meterThreads]);
      let v8 = 0;
      let workers = 0;
      for (const [tid, t1] of tasks()) {
        if (known.has(tid) || t1 === null) continue;
        const used = Math.max(0, t1 - (tasksBefore.get(tid) ?? 0));
        if (startupThreads.has(tid)) v8 += used;
        else workers += used;
      }
      Object.assign(split, { workers: perItem(workers), v8Helpers: perItem(v8) });
    }
    return { mainThread: perItem(main), ...Object.fromEntries(Object.keys(threads).map((k, i) => [k, perItem(named[i])])), otherThreads: perItem(rest), ...split };
  };
}

/** CPU seconds (user + system) of each pid now; null for a pid that is gone. */
export function cpuOfPids(pids: Iterable<number>): Map<number, number | null> {
  return new Map([...pids].map((pid) => [pid, processCpuSeconds(pid)]));
}

/** CPU seconds used between two cpuOfPids readings, summed (a pid only in `after` started inside the interval and counts from zero). */
export function cpuSecondsBetween(before: Map<number, number | null>, after: Map<number, number | null>): number {
  let sum = 0;
  for (const [pid, t1] of after) if (t1 !== null) sum += Math.max(0, t1 - (before.get(pid) ?? 0));
  return sum;
}

/**
 * CPU seconds so far of every thread of this process, by kernel thread id (with its name, comm;
 * Node 20 names them all `node`), from /proc/self/task; empty off Linux.
 */
export function threadCpuByTid(): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>();
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: (Number(fields[11]) + Number(fields[12])) / CLK_TCK });
    } catch {
      /* exited */
    }
  }
  return out;
}

/** Pids of the processes whose command name (comm) is `name`. */
export function pidsNamed(name: string): number[] {
  const out: number[] = [];
  try {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name) out.push(Number(pid));
      } catch {
        /* gone */
      }
    }
  } catch {
    /* not Linux */
  }
  return out;
}

export interface CpuReport {
  /** Logical CPUs of the machine. */
  cpus: number;
  /** Cores' worth of CPU used, averaged over the phase. */
  machineCores: number | null;
  thisProcessCores: number;
  postgresCores: number | null;
  /** Everything else on the machine (other jobs, Mosquitto, openssl, ...). */
  otherCores: number | null;
  /** Event-loop utilization of the main thread (where the service runs): 1 = never idle. */
  mainLoopUtilization: number;
}

/** Starts measuring where the CPU goes; call the result to get the report for the elapsed interval. */
export function cpuMeter(): () => CpuReport {
  const t0 = performance.now();
  const m0 = machineTicks();
  const pgTicks = postgresMeter();
  const c0 = process.cpuUsage();
  const e0: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const m1 = machineTicks();
    const pgSpent = pgTicks();
    const c = process.cpuUsage(c0);
    const elu = performance.eventLoopUtilization(e0);
    const n = availableParallelism();
    const machine = m0 && m1 && m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * n : null;
    const own = (c.user + c.system) / 1e6 / seconds;
    const pg = pgSpent === null ? null : pgSpent / CLK_TCK / seconds;
    return {
      cpus: n,
      machineCores: round(machine ?? undefined, 2),
      thisProcessCores: round(own, 2)!,
      postgresCores: round(pg ?? undefined, 2),
      otherCores: machine !== null && pg !== null ? round(Math.max(0, machine - own - pg), 2) : null,
      mainLoopUtilization: round(elu.utilization, 3)!,
    };
  };
}

/* ------------------------------------------------------------------ memory */

const MiB = 1024 * 1024;

/** Samples process RSS every `everyMs` until stopped; returns baseline, peak and last in MiB. */
export function rssSampler(everyMs = 50): { stop(): { baselineMiB: number; peakMiB: number; lastMiB: number; growthMiB: number }; sample(): void } {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    sample,
    stop() {
      clearInterval(timer);
      const last = process.memoryUsage.rss();
      peak = Math.max(peak, last);
      return { baselineMiB: round(baseline / MiB)!, peakMiB: round(peak / MiB)!, lastMiB: round(last / MiB)!, growthMiB: round((peak - baseline) / MiB)! };
    },
  };
}

/* ------------------------------------------------------------------ environment and output */

export function machineInfo(): { node: string; cpus: number; cpuModel: string; loadAvg1m: number } {
  const c = cpus();
  let load = 0;
  try {
    load = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    /* not Linux */
  }
  return { node: process.version, cpus: availableParallelism(), cpuModel: c[0]?.model ?? 'unknown', loadAvg1m: load };
}

export const OPENSSL = process.env.OPENSSL ?? 'openssl';

/** `openssl speed -seconds N ecdsap256`: sign/s and verify/s of one core (OpenSSL counts user CPU time). */
export function opensslEcdsaP256Speed(seconds = 3): { signPerSecond: number; verifyPerSecond: number; command: string } {
  const args = ['speed', '-seconds', String(seconds), 'ecdsap256'];
  const run = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl speed failed: ${run.stderr}`);
  // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  51834.5  16882.3"
  const m = /256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/.exec(run.stdout);
  if (!m) throw new Error(`cannot read openssl speed output:\n${run.stdout}`);
  return { signPerSecond: Math.round(Number(m[1])), verifyPerSecond: Math.round(Number(m[2])), command: `${OPENSSL} ${args.join(' ')}` };
}

/** The bench output convention: one JSON line, then a one-line human summary. */
export function emit(result: Record<string, unknown>, summary: string): void {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.stdout.write(summary.replace(/\s*\n\s*/g, ' ') + '\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function fail(e: unknown): void {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
