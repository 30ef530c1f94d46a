/**
 * Stored-scoring benchmark: the fleet-wide rescore of the service (`rescoreAll`, the same code the
 * service runs) against PostgreSQL.
 *
 * Creates a fresh database on the server (FLEETGUARD_BENCH_PG, default
 * postgres://postgres@127.0.0.1:5432/postgres), runs the migrations, and inserts N devices
 * (default 100,000) over 32 products of the four component types, each with a hardening report
 * and an attestation state (affirming, warning, contraindicated, stale, never attested), with bulk
 * inserts; reports and products come from the pure benchmark's generator (score-pure.ts). Then,
 * timed: every device read with its latest report in keyset batches, scored with the compiled
 * scorers, and its history entry and levels written with one multi-row statement per batch. A
 * second run, with nothing changed, is timed apart (reads and scoring, no writes).
 *
 *   node scripts/build.js && node dist/bench/score-stored.js [--devices 100000] [--batch 2000] [--seed 42] [--keep]
 *
 * Prints one JSON line {devices, ms, perDeviceUs, peakRssMiB, ...} and a one-line summary. The
 * goal is under 10 s for 100,000 devices. The database is dropped at the end unless --keep.
 */
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { createScratchDatabase } from '@fleetguard/persistence';
import { FR_KEYS } from '@fleetguard/hardening';
import { HardeningRepository, ScorerCache, rescoreAll } from '@fleetguard/hardening/nest';
import { seedStoredFleet } from './support/stored-fleet';
import { flagArg, numberArg } from './support/measure';

const GOAL_MS = 10_000;
const MiB = 2 ** 20;

/** A positive integer option (node:util parseArgs, bench/support/measure.ts). */
const arg = (name: string, fallback: number): number => numberArg(name, fallback, { integer: true, min: 1 });

function createDatabase(serverUrl: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  return createScratchDatabase(serverUrl, 'fleetguard_bench');
}

async function main(): Promise<void> {
  const devices = arg('devices', 100_000);
  const batchSize = arg('batch', 2000);
  const seedValue = arg('seed', 42);
  const server = process.env.FLEETGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await createDatabase(server);
  const ds = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
  try {
    await ds.initialize();
    await runMigrations(ds);
    const serverVersion = String((await ds.query('SHOW server_version'))[0].server_version);

    const s0 = performance.now();
    await seedStoredFleet(ds, devices, seedValue);
    const seedMs = performance.now() - s0;

    const repo = new HardeningRepository(ds);
    const cache = new ScorerCache();
    // Peak RSS while rescoring: sampled on a timer and at every batch boundary.
    const baselineRss = process.memoryUsage.rss();
    let peakRss = baselineRss;
    const sample = () => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    };
    const sampler = setInterval(sample, 10);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let first;
    try {
      first = await rescoreAll(repo, cache, { intervalSeconds: 300, batchSize, onChanges: sample });
    } finally {
      clearInterval(sampler);
      sample();
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const second = await rescoreAll(repo, cache, { intervalSeconds: 300, batchSize });

    const [check] = await ds.query(
      `SELECT (SELECT count(*)::int FROM device_scores) AS history, (SELECT count(*)::int FROM devices WHERE sl_evidenced IS NULL) AS unscored,
              (SELECT count(*)::int FROM devices WHERE below_target) AS below,
              ${FR_KEYS.map((k) => `round(avg((sl_evidenced->>'${k}')::int), 2)::float AS "${k}"`).join(', ')}
       FROM devices`,
    );
    if (first.devices !== devices || first.written !== devices || check.history !== devices || check.unscored !== 0) {
      throw new Error(`incomplete rescore: ${JSON.stringify({ first, check })}`);
    }

    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    const result = {
      bench: 'score-stored',
      devices,
      batchSize,
      batches: first.batches,
      ms: round(ms),
      perDeviceUs: round((ms * 1000) / devices, 2),
      devicesPerSecond: Math.round(devices / (ms / 1000)),
      cpuMs: round((cpu.user + cpu.system) / 1000),
      written: first.written,
      unchangedRescoreMs: round(second.ms),
      peakRssMiB: round(peakRss / MiB),
      rssGrowthMiB: round((peakRss - baselineRss) / MiB),
      seedMs: round(seedMs),
      belowTarget: check.below,
      goalMs: GOAL_MS,
      withinGoal: ms < GOAL_MS,
      postgres: serverVersion,
      node: process.version,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
    process.stdout.write(
      `score-stored: rescored ${devices} stored devices (latest report + attestation state, PostgreSQL ${serverVersion}) in ${result.ms} ms ` +
        `= ${result.perDeviceUs} µs/device, ${result.batches} batches of ${batchSize}, one write statement each ` +
        `(${result.withinGoal ? 'within' : 'OVER'} the ${GOAL_MS / 1000} s goal); peak RSS ${result.peakRssMiB} MiB; ` +
        `unchanged rescore ${result.unchangedRescoreMs} ms; seeding ${round(seedMs / 1000)} s; ` +
        `mean SL-C evidenced ${FR_KEYS.map((k) => check[k]).join('/')}, ${check.below} below target\n`,
    );
  } finally {
    if (ds.isInitialized) await ds.destroy();
    if (flagArg('keep')) process.stderr.write(`kept database ${db.name}\n`);
    else await db.drop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
