/**
 * TCG event log benchmark, pure core on one core: parse + replay every bank + measured-boot
 * appraisal (golden state compare and a Fleetguard policy: Secure Boot, PK/KEK/db/dbx, boot
 * applications, kernel command lines) of the largest log in ../shared/data/eventlogs.
 * Same-run baselines, measured in rounds interleaved with the appraisal (the machine may be
 * shared: a load change then moves both alike):
 *  - SHA-256 over the log's bytes (the least any verifier of the log must do);
 *  - the extends alone: one crypto.hash of PCR || digest per measured event and bank the replay
 *    covers, on a fixed buffer (the platform's floor for a replay: no parse, no copies).
 * Rates are given per wall second and per CPU second of this process (process.cpuUsage: on a
 * loaded machine the wall rate mostly measures the scheduler); the ratios use the medians.
 *
 *   npm run bench:eventlog [-- --seconds 3]
 *
 * Prints one JSON line and a one-line summary.
 */
import { hash } from 'node:crypto';
import { loadavg } from 'node:os';
import { canReplayBank, compareWithGoldenState, EV, evaluateMeasuredBootPolicy, parseMeasuredBootPolicy, parseTcgEventLog, policyFromLog, recordGoldenBootState, replayTcgEventLog } from '@fleetguard/attestation';
import { realEventLogs } from '@fleetguard/device-kit';
import { numberArg } from './support/measure';

/** A positive number option (node:util parseArgs, bench/support/measure.ts). */
const arg = (name: string, fallback: number): number => numberArg(name, fallback);

interface Rate {
  wall: number;
  cpu: number;
}

/** Runs `fn` for about `seconds` of wall time; operations per wall second and per CPU second of this process. */
function rate(seconds: number, fn: () => void): Rate {
  let runs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 20; i++) fn();
    runs += 20;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: runs / (Number(now - t0) / 1e9), cpu: runs / ((cpu.user + cpu.system) / 1e6) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main(): void {
  const seconds = arg('seconds', 3);
  const logs = realEventLogs();
  const largest = logs.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  const reference = parseTcgEventLog(largest.bytes);
  const golden = recordGoldenBootState(reference);
  const policy = parseMeasuredBootPolicy(policyFromLog(reference));

  let findings = 0;
  const appraise = () => {
    const log = parseTcgEventLog(largest.bytes);
    replayTcgEventLog(log);
    findings += compareWithGoldenState(log, golden).length + evaluateMeasuredBootPolicy(log, policy).length;
  };
  appraise();
  if (findings !== 0) throw new Error(`the known-good log should comply, got ${findings} findings`);

  // The extends alone, as many as the replay does: per replayed bank, one hash per measured event.
  const measured = reference.events.filter((e) => e.type !== EV.NO_ACTION).length;
  const banks = reference.specId.algorithms.filter((a) => canReplayBank(a.name));
  const extendInputs = banks.map((a) => ({ hash: a.name === 'sm3_256' ? 'sm3' : a.name, input: Buffer.alloc(2 * a.digestSize, 0x5a) }));
  const extendsAlone = () => {
    for (const b of extendInputs) for (let i = 0; i < measured; i++) hash(b.hash, b.input, 'binary');
  };
  const sha256OfLog = () => hash('sha256', largest.bytes, 'buffer');

  // Warm-up, then rounds of the three, interleaved.
  for (const fn of [appraise, sha256OfLog, extendsAlone]) rate(0.2, fn);
  const rounds = 5;
  const slice = seconds / rounds;
  const got = { core: [] as Rate[], sha: [] as Rate[], ext: [] as Rate[] };
  for (let r = 0; r < rounds; r++) {
    got.core.push(rate(slice, appraise));
    got.sha.push(rate(slice / 2, sha256OfLog));
    got.ext.push(rate(slice / 2, extendsAlone));
  }
  const med = (list: Rate[], k: keyof Rate) => median(list.map((x) => x[k]));
  const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
  const core = { wall: med(got.core, 'wall'), cpu: med(got.core, 'cpu') };
  const sha = { wall: med(got.sha, 'wall'), cpu: med(got.sha, 'cpu') };
  const ext = { wall: med(got.ext, 'wall'), cpu: med(got.ext, 'cpu') };
  const result = {
    log: largest.name,
    bytes: largest.bytes.length,
    events: reference.events.length,
    banks: reference.specId.algorithms.map((a) => a.name),
    extendsPerAppraisal: measured * banks.length,
    appraisalsPerSecond: round(core.wall),
    appraisalsPerCpuSecond: round(core.cpu),
    baselineSha256PerSecond: round(sha.wall),
    baselineSha256PerCpuSecond: round(sha.cpu),
    ratio: round(core.wall / sha.wall, 3),
    ratioCpu: round(core.cpu / sha.cpu, 3),
    baselineExtendsAlonePerSecond: round(ext.wall),
    baselineExtendsAlonePerCpuSecond: round(ext.cpu),
    ratioToExtendsAlone: round(core.wall / ext.wall, 3),
    ratioToExtendsAloneCpu: round(core.cpu / ext.cpu, 3),
    goalPerSecond: 5000,
    loadAverage: loadavg().map((x) => round(x, 2)),
    findings,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `${largest.name} (${result.bytes} bytes, ${result.events} events, ${result.banks.join('+')}): parse + replay + golden + policy ` +
      `${result.appraisalsPerSecond}/s wall, ${result.appraisalsPerCpuSecond}/s per CPU second on one core ` +
      `(goal ${result.goalPerSecond}/s: ${core.cpu >= 5000 ? 'met' : 'NOT met'} per CPU second, ${core.wall >= 5000 ? 'met' : 'NOT met'} per wall second); ` +
      `baseline sha256 over the bytes ${result.baselineSha256PerSecond}/s (${result.baselineSha256PerCpuSecond}/s CPU), ratio ${result.ratio} (${result.ratioCpu} CPU); ` +
      `the ${result.extendsPerAppraisal} extends alone ${result.baselineExtendsAlonePerSecond}/s (${result.baselineExtendsAlonePerCpuSecond}/s CPU), ratio ${result.ratioToExtendsAlone} (${result.ratioToExtendsAloneCpu} CPU); ` +
      `load average ${result.loadAverage.join(' ')}\n`,
  );
}

if (require.main === module) main();
