/**
 * Zone assessment benchmark: one zone of N devices (default 100,000) over 32 products of the four
 * component types (the pure scoring benchmark's generator: varied reports, attestations and
 * observations), assessed and exported as CSV streaming: every device scored by the compiled
 * scorers, its statuses and grades tabled (`score.table()`), SL-A accumulated with two recorded
 * countermeasures (ZoneAssessor), and one CSV row per requirement and device written as
 * ZonesService writes them (AssessmentCsvWriter: UTF-8 bytes, the bytes csv-stringify writes,
 * checked by a fuzz test) into a byte-counting sink with backpressure. The same run's baseline is
 * scoring the same devices for their vectors only (what bench:score times); the summary gives the ratio.
 *
 * Then the stored part, the product's own path end to end: a fresh PostgreSQL database
 * (FLEETGUARD_BENCH_PG, default postgres://postgres@127.0.0.1:5432/postgres) with the migrations and
 * N stored devices (bench/support/stored-fleet.ts) in one zone with two countermeasures, exported
 * by ZonesService.exportZone as CSV into the byte-counting sink: zone members read in keyset
 * batches, each batch's devices with their latest reports in one query, scored, rows streamed
 * as bytes in chunks with backpressure; the next batch is read while the current one is written.
 * ZonesService is assembled over the functions the service's HardeningService uses
 * (scoreStoredDevices), without Nest. Its same-run baseline is the export's reads alone (the same
 * repositories' queries, rows parsed by pg, nothing scored or written), the lower of a run before
 * and one after the export; the zone's summary (ZonesService.get: reads and scoring) is shown too,
 * with the process's RSS before the export and its peak during it (sampled at every chunk).
 *
 *   node scripts/build.js && node dist/bench/zone-assessment.js [--devices 100000] [--seed 7] [--no-stored]
 *
 * Prints one JSON line and a one-line summary per part. Goal: under 10 s for 100,000 devices.
 */
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { Writable } from 'node:stream';
import { applicableItems, COMPONENT_TYPES, createScorer, FR_KEYS, loadCatalog, loadFactRules, validateHardeningReport, type ComponentType, type Scorer, type SlVector } from '@fleetguard/hardening';
import { DataSource } from 'typeorm';
import type { Principal } from '@fleetguard/auth/nest';
import { HardeningRepository, ScorerCache, scoreStoredDevices } from '@fleetguard/hardening/nest';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { createScratchDatabase } from '@fleetguard/persistence';
import { AssessmentCsvWriter, coverage, ZoneAssessor, type Countermeasure } from '@fleetguard/zones';
import { ZonesRepository, ZonesService } from '@fleetguard/zones/nest';
import { generate, products, rng } from './score-pure';
import { seedStoredFleet } from './support/stored-fleet';
import { flagArg, numberArg } from './support/measure';

const GOAL_MS = 10_000;

/** A positive integer option (node:util parseArgs, bench/support/measure.ts). */
const arg = (name: string, fallback: number): number => numberArg(name, fallback, { integer: true, min: 1 });

async function main(): Promise<void> {
  const n = arg('devices', 100_000);
  const r = rng(arg('seed', 7));
  const catalog = loadCatalog();
  const rules = loadFactRules();
  const scorers = {} as Record<ComponentType, Scorer>;
  for (const t of COMPONENT_TYPES) scorers[t] = createScorer(catalog, rules, t, { maxReportAgeSeconds: 7 * 86400 });
  const plan = products(r);
  const declared = plan.map((p) => scorers[p.type].declare(applicableItems(catalog, p.type).map((i) => i.id).filter(() => r() < p.declaredShare)));
  const devices = generate(n, r, plan);
  for (const d of devices) d.facts = validateHardeningReport(d.facts);
  const now = Date.now();
  const score = (i: number) => {
    const d = devices[i];
    return scorers[plan[d.product].type]({
      facts: d.facts,
      attestation: { status: d.attestation, firmwareVersion: d.attestedFirmware },
      observed: d.observed,
      reportedAt: now - 3600_000,
      now,
      declared: declared[d.product],
    });
  };

  // Baseline: vectors only.
  const b0 = performance.now();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += score(i).evidenced.FR1;
  const baselineMs = performance.now() - b0;

  const slT = Object.fromEntries(FR_KEYS.map((k) => [k, 2])) as SlVector;
  const countermeasures: Countermeasure[] = [
    { id: 'cm-1', requirement: 'CR 1.1 RE(2)', description: 'jump host with MFA in front of the cell', recordedAt: new Date().toISOString() },
    { id: 'cm-2', requirement: 'CR 3.14', description: 'sealed enclosures, weekly inspection', recordedAt: new Date().toISOString() },
  ];
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const assessor = new ZoneAssessor(slT, countermeasures, coverage(catalog, countermeasures));
  // As ZonesService writes CSV: each device's rows as UTF-8 bytes (AssessmentCsvWriter), in chunks of about 1 MiB with backpressure.
  const csv = new AssessmentCsvWriter(1 << 20);
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const d = devices[i];
    const zd = { deviceId: `dev-${i}`, scorer: scorers[plan[d.product].type], score: score(i), evidence: { reportId: null, attestationResultId: null, firmwareRelease: d.attestedFirmware ?? null } };
    const table = zd.score.table();
    assessor.accumulate(zd, table);
    rows += table.statuses.length;
    csv.device(zd, table, assessor.coverOf(zd.scorer));
    if (csv.size >= 1 << 20 && !sink.write(csv.take())) await once(sink, 'drain');
  }
  sink.end(csv.take());
  await once(sink, 'finish');
  const result = assessor.result();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  process.stdout.write(
    `${JSON.stringify({ devices: n, rows, csvMiB: round(bytes / 2 ** 20), ms: round(ms), baselineMs: round(baselineMs), ratio: round(ms / baselineMs, 2), cpuMs: round(cpuMs), goalMs: GOAL_MS, withinGoal: ms < GOAL_MS, slA: result.slA, load: loadavg().map((x) => round(x, 2)), check: sum })}\n`,
  );
  process.stdout.write(
    `zone of ${n} devices assessed and exported as CSV (${rows} rows, ${round(bytes / 2 ** 20)} MiB) in ${round(ms)} ms wall, ${round(cpuMs)} ms cpu ` +
      `(goal < ${GOAL_MS} ms: ${ms < GOAL_MS ? 'met' : 'MISSED'}); same-run baseline, scoring the vectors only: ${round(baselineMs)} ms, ratio ${round(ms / baselineMs, 2)}; ` +
      `SL-A ${FR_KEYS.map((k) => result.slA[k]).join('/')}\n`,
  );
}

/** A sink that counts bytes and lines (CSV rows), with backpressure like a socket. */
function countingSink(): Writable & { bytes: number; lines: number; peakRss: number } {
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      sink.bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) sink.lines++;
      // The export streams: the process's resident memory, sampled at each chunk, stays flat.
      sink.peakRss = Math.max(sink.peakRss, process.memoryUsage.rss());
      cb();
    },
  }) as Writable & { bytes: number; lines: number; peakRss: number };
  sink.bytes = 0;
  sink.lines = 0;
  sink.peakRss = 0;
  return sink;
}

async function stored(n: number, seedValue: number): Promise<void> {
  const server = process.env.FLEETGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await createScratchDatabase(server, 'fleetguard_bench_zone');
  const ds = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
  try {
    await ds.initialize();
    await runMigrations(ds);
    const s0 = performance.now();
    const fleet = await seedStoredFleet(ds, n, seedValue);
    const zonesRepo = new ZonesRepository(ds);
    const slT = Object.fromEntries(FR_KEYS.map((k) => [k, 2])) as SlVector;
    const zone = (await zonesRepo.create(fleet.organizationId, 'bench zone', slT))!;
    for (let i = 0; i < fleet.deviceIds.length; i += 10_000) await zonesRepo.changeDevices(zone.id, fleet.deviceIds.slice(i, i + 10_000), []);
    await zonesRepo.addCountermeasure(zone.id, 'CR 1.1 RE(2)', 'jump host with MFA in front of the cell', 'bench');
    await zonesRepo.addCountermeasure(zone.id, 'CR 3.14', 'sealed enclosures, weekly inspection', 'bench');
    await ds.query('ANALYZE');
    const seedMs = performance.now() - s0;

    const hardeningRepo = new HardeningRepository(ds);
    const cache = new ScorerCache();
    const zones = new ZonesService(
      zonesRepo,
      { scoreMany: (ids, productRows) => scoreStoredDevices(hardeningRepo, cache, ids, productRows ?? new Map(), { now: new Date(), intervalSeconds: 300 }) },
      { get: () => Promise.reject(new Error('not used by zone exports')) },
    );
    const principal: Principal = { keyId: 'bench', organizationId: fleet.organizationId, organizationKind: 'operator', roles: ['operator'] };

    // Baseline: the export's reads alone, through the same repositories and driver (the zone's
    // members in keyset batches, each batch's devices with their latest reports, rows parsed by
    // pg, reports' JSON included), nothing scored or written: the floor of any export that reads
    // the devices as the product stores them. Run before and after the export, the lower counts.
    const reads = async (): Promise<number> => {
      const t = performance.now();
      let after: string | null = null;
      let got = 0;
      for (;;) {
        const ids = await zonesRepo.deviceIds(zone.id, after, 2000);
        if (ids.length) got += (await hardeningRepo.subjects(ids)).length;
        if (ids.length < 2000) break;
        after = ids[ids.length - 1];
      }
      if (got !== n) throw new Error(`the baseline read ${got} devices`);
      return performance.now() - t;
    };
    const readsBefore = await reads();
    const q0 = performance.now();
    const summary = await zones.get(principal, zone.id);
    const summaryMs = performance.now() - q0;

    const sink = countingSink();
    const rssBefore = process.memoryUsage.rss();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await zones.exportZone(principal, zone.id, 'csv', sink);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const baselineMs = Math.min(readsBefore, await reads());
    const rows = sink.lines - 1;
    if (summary.assessment.devices !== n || rows < n * 50) throw new Error(`incomplete export: ${summary.assessment.devices} devices, ${rows} rows`);
    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    const mib = (b: number) => round(b / 2 ** 20);
    const serverVersion = String((await ds.query('SHOW server_version'))[0].server_version);
    const load = loadavg().map((x) => round(x, 2));
    process.stdout.write(
      `${JSON.stringify({ bench: 'zone-assessment-stored', devices: n, rows, csvMiB: mib(sink.bytes), ms: round(ms), baselineMs: round(baselineMs), ratio: round(ms / baselineMs, 2), cpuMs: round(cpuMs), summaryMs: round(summaryMs), rssBeforeMiB: mib(rssBefore), peakRssMiB: mib(sink.peakRss), seedMs: round(seedMs), goalMs: GOAL_MS, withinGoal: ms < GOAL_MS, slA: summary.assessment.slA, load, postgres: serverVersion })}\n`,
    );
    process.stdout.write(
      `stored zone of ${n} devices (PostgreSQL ${serverVersion}) exported as CSV by ZonesService.exportZone (${rows} rows, ${mib(sink.bytes)} MiB) in ${round(ms)} ms wall, ${round(cpuMs)} ms cpu ` +
        `(goal < ${GOAL_MS} ms: ${ms < GOAL_MS ? 'met' : 'MISSED'}); same-run baseline, the export's reads alone (no scoring, no rows): ${round(baselineMs)} ms, ratio ${round(ms / baselineMs, 2)}; ` +
        `the zone's summary (reads and scoring): ${round(summaryMs)} ms; RSS ${mib(rssBefore)} MiB before, at most ${mib(sink.peakRss)} MiB during; load ${load.join(' ')}; ` +
        `SL-A ${FR_KEYS.map((k) => summary.assessment.slA[k]).join('/')}; seeding ${round(seedMs / 1000)} s\n`,
    );
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await db.drop();
  }
}

main()
  .then(() => (flagArg('no-stored') ? undefined : stored(arg('devices', 100_000), arg('seed', 7))))
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
