/**
 * TCG event log benchmark, pure core on one core: parse + replay every bank + measured-boot
 * appraisal (golden state compare and a Fleetguard policy: Secure Boot, PK/KEK/db/dbx, boot
 * applications, kernel command lines) of the largest log in ../shared/data/eventlogs.
 * Same-run baseline: SHA-256 over the log's bytes (the least any verifier of the log must do).
 *
 *   npm run bench:eventlog [-- --seconds 3]
 *
 * Prints one JSON line and a one-line summary.
 */
import { createHash } from 'node:crypto';
import {
  compareWithGoldenState,
  evaluateMeasuredBootPolicy,
  parseMeasuredBootPolicy,
  parseTcgEventLog,
  policyFromLog,
  realEventLogs,
  recordGoldenBootState,
  replayTcgEventLog,
} from '@fleetguard/attestation-core';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** Runs `fn` for about `seconds`, returns operations per second (after a short warm-up). */
function rate(seconds: number, fn: () => void): { perSecond: number; runs: number } {
  const warm = Date.now() + 300;
  while (Date.now() < warm) fn();
  let runs = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 50; i++) fn();
    runs += 50;
    now = process.hrtime.bigint();
  }
  return { perSecond: runs / (Number(now - t0) / 1e9), runs };
}

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
  const core = rate(seconds, appraise);
  const baseline = rate(seconds, () => createHash('sha256').update(largest.bytes).digest());
  const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
  const result = {
    log: largest.name,
    bytes: largest.bytes.length,
    events: reference.events.length,
    banks: reference.specId.algorithms.map((a) => a.name),
    appraisalsPerSecond: round(core.perSecond),
    baselineSha256PerSecond: round(baseline.perSecond),
    ratio: round(core.perSecond / baseline.perSecond, 3),
    goalPerSecond: 5000,
    findings,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `${largest.name} (${result.bytes} bytes, ${result.events} events, ${result.banks.join('+')}): parse + replay + golden + policy ${result.appraisalsPerSecond}/s on one core ` +
      `(goal ${result.goalPerSecond}/s: ${core.perSecond >= 5000 ? 'met' : 'NOT met'}); baseline sha256 over the bytes ${result.baselineSha256PerSecond}/s; ratio ${result.ratio}\n`,
  );
}

if (require.main === module) main();
