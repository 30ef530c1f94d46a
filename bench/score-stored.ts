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
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, createScratchDatabase, runMigrations } from '@fleetguard/persistence';
import { FR_KEYS, HardeningRepository, ScorerCache, applicableItems, loadCatalog, rescoreAll } from '@fleetguard/hardening';
import { generate, products, rng } from './score-pure';

const GOAL_MS = 10_000;
const SEED_CHUNK = 5000;
const MiB = 2 ** 20;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

function createDatabase(serverUrl: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  return createScratchDatabase(serverUrl, 'fleetguard_bench');
}

/** How each generated attestation result is stored on the device row (stale: affirmed an hour ago). */
const ATTESTATION_ROW: Record<string, { status: string | null; affirmedAgoSeconds: number | null }> = {
  affirming: { status: 'affirming', affirmedAgoSeconds: 60 },
  warning: { status: 'warning', affirmedAgoSeconds: 120 },
  contraindicated: { status: 'contraindicated', affirmedAgoSeconds: 3 * 86400 },
  stale: { status: 'affirming', affirmedAgoSeconds: 3600 },
  none: { status: null, affirmedAgoSeconds: null },
};

/** Organizations, products and devices with reports, in chunks (one statement per table per chunk). */
async function seed(ds: DataSource, devices: number, seed: number): Promise<void> {
  const r = rng(seed);
  const org = randomUUID();
  await ds.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, 'bench-manufacturer', 'manufacturer')`, [org]);
  const catalog = loadCatalog();
  const plan = products(r);
  const productIds = plan.map(() => randomUUID());
  await ds.query(
    `INSERT INTO products (id, organization_id, name, component_type, declared_requirements, target_levels)
     SELECT id, $2, name, component_type, declared, target FROM jsonb_to_recordset($1::jsonb)
       AS x(id uuid, name varchar, component_type varchar, declared jsonb, target jsonb)`,
    [
      JSON.stringify(
        plan.map((p, i) => ({
          id: productIds[i],
          name: `bench-product-${i}`,
          component_type: p.type,
          declared: applicableItems(catalog, p.type)
            .map((it) => it.id)
            .filter(() => r() < p.declaredShare),
          target: Object.fromEntries(FR_KEYS.map((k) => [k, 1 + (i % 3)])),
        })),
      ),
      org,
    ],
  );
  for (let start = 0; start < devices; start += SEED_CHUNK) {
    const chunk = generate(Math.min(SEED_CHUNK, devices - start), r, plan);
    const rows = chunk.map((d, i) => {
      const a = ATTESTATION_ROW[d.attestation];
      return {
        id: `bench-${String(start + i).padStart(7, '0')}`,
        product_id: productIds[d.product],
        status: a.status,
        affirmed_ago: a.affirmedAgoSeconds,
        report: d.facts,
      };
    });
    const payload = JSON.stringify(rows);
    await ds.query(
      `INSERT INTO devices (id, product_id, manufacturer_org_id, key_type, public_key_spki, attestation_status, attestation_at, affirmed_at)
       SELECT id, product_id, $2, 'P-256', '\\x00'::bytea, status,
              CASE WHEN status IS NULL THEN NULL ELSE now() - interval '30 seconds' END,
              CASE WHEN affirmed_ago IS NULL THEN NULL ELSE now() - make_interval(secs => affirmed_ago) END
       FROM jsonb_to_recordset($1::jsonb) AS x(id varchar, product_id uuid, status varchar, affirmed_ago int)`,
      [payload, org],
    );
    await ds.query(
      `INSERT INTO hardening_reports (id, device_id, report, channel)
       SELECT gen_random_uuid(), id, report, 'mqtt' FROM jsonb_to_recordset($1::jsonb) AS x(id varchar, report jsonb)`,
      [payload],
    );
  }
  await ds.query('ANALYZE');
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
    await seed(ds, devices, seedValue);
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
    if (process.argv.includes('--keep')) process.stderr.write(`kept database ${db.name}\n`);
    else await db.drop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
