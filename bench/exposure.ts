/**
 * Exposure benchmark: one CSAF advisory (a version range over a component) against 50 releases
 * with SBOMs and 100,000 devices attested on them, recomputed by the service's own code
 * (LifecycleService.recomputeAdvisory: matching in the core, the attested-release port of
 * attestation, the set-based write of device_exposures, the device.exposed events) on PostgreSQL.
 *
 * Baseline, same run and database: the SQL floor of the same work — one INSERT … SELECT of the
 * devices on the affected releases into a scratch table.
 *
 *   node scripts/build.js && node dist/bench/exposure.js [--devices 100000] [--releases 50] [--keep]
 *
 * Prints one JSON line and a one-line summary. The goal: under 5 s for 100,000 devices.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrations } from '@fleetguard/persistence/nest';
import { createScratchDatabase } from '@fleetguard/persistence';
import { AttestedReleaseReader } from '@fleetguard/attestation/nest';
import { EventBusService, WebhookOutboxService, WebhookSecretsService, WebhookTargetService } from '@fleetguard/events/nest';
import { parseConfig } from '@fleetguard/common';
import { LifecycleRepository, LifecycleService } from '@fleetguard/lifecycle/nest';
import { csafAdvisory } from '@fleetguard/lifecycle/testing';
import { parseCsaf } from '@fleetguard/lifecycle';
import { flagArg, numberArg } from './support/measure';

const GOAL_MS = 5_000;
const CHUNK = 10_000;

/** A positive integer option (node:util parseArgs, bench/support/measure.ts). */
const arg = (name: string, fallback: number): number => numberArg(name, fallback, { integer: true, min: 1 });

/** Release i carries lwip 2.1.i for the first 80 % of releases (affected: < 2.2.0), 2.2.i after. */
function lwipVersion(i: number, releases: number): string {
  return i < Math.floor(releases * 0.8) ? `2.1.${i}` : `2.2.${i}`;
}

function rangeAdvisory(): Record<string, any> {
  const doc = csafAdvisory({ target: { vendor: 'lwIP', product: 'lwip', affectedVersions: ['2.1.0'], fixedVersion: '2.2.0' } });
  const versions = doc.product_tree.branches[0].branches[0];
  versions.branches = [
    { category: 'product_version_range', name: 'vers:semver/<2.2.0', product: { name: 'lwIP lwip < 2.2.0', product_id: 'CSAFPID-0001' } },
    { category: 'product_version', name: '2.2.0', product: { name: 'lwIP lwip 2.2.0', product_id: 'CSAFPID-0002' } },
  ];
  return doc;
}

async function seed(ds: DataSource, devices: number, releases: number): Promise<{ org: string; product: string }> {
  const org = randomUUID();
  const product = randomUUID();
  await ds.query(`INSERT INTO organizations (id, name, kind) VALUES ($1, 'bench-manufacturer', 'manufacturer')`, [org]);
  await ds.query(`INSERT INTO products (id, organization_id, name, component_type, declared_requirements, target_levels) VALUES ($1, $2, 'bench-gateway', 'EDR', '[]', '{}')`, [product, org]);
  const repo = new LifecycleRepository(ds);
  for (let i = 0; i < releases; i++) {
    const components = Array.from({ length: 60 }, (_, k) => ({ name: `lib-${k}`, version: `1.${k}.${i}`, purl: `pkg:generic/lib-${k}@1.${k}.${i}` }));
    components.push({ name: 'lwip', version: lwipVersion(i, releases), purl: `pkg:generic/lwip@${lwipVersion(i, releases)}` });
    await repo.putSbom({ productId: product, version: `4.${i}.0`, format: 'cyclonedx-json', specVersion: '1.5', sha256: '0'.repeat(64), components });
  }
  for (let start = 0; start < devices; start += CHUNK) {
    const n = Math.min(CHUNK, devices - start);
    await ds.query(
      `INSERT INTO devices (id, product_id, manufacturer_org_id, status, key_type, public_key_spki, attestation_status, attestation_at, affirmed_at, firmware_version)
       SELECT 'bench-' || lpad(g::text, 7, '0'), $1, $2, 'active', 'P-256', '\\x00'::bytea, 'affirming', now(), now(), '4.' || (g % $5) || '.0'
       FROM generate_series($3::int, $4::int) AS g`,
      [product, org, start, start + n - 1, releases],
    );
  }
  await ds.query('ANALYZE');
  return { org, product };
}

async function main(): Promise<void> {
  const devices = arg('devices', 100_000);
  const releases = arg('releases', 50);
  const server = process.env.FLEETGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await createScratchDatabase(server, 'fleetguard_bench');
  const ds = new DataSource(buildDataSourceOptions({ databaseUrl: db.url, dataDir: '/tmp' }));
  const config = parseConfig({ FLEETGUARD_ENV: 'test', FLEETGUARD_CA_PASSPHRASE: 'bench-ca-passphrase' });
  // The outbox is not started: the bench has no webhooks, publishing only looks them up.
  const events = new EventBusService(new WebhookOutboxService(ds, config, new WebhookTargetService(config), new WebhookSecretsService(ds, config)));
  try {
    await ds.initialize();
    await runMigrations(ds);
    const serverVersion = String((await ds.query('SHOW server_version'))[0].server_version);
    const s0 = performance.now();
    const { org } = await seed(ds, devices, releases);
    const seedMs = performance.now() - s0;

    const repo = new LifecycleRepository(ds);
    // recomputeAdvisory uses the repository, the attested-release port and the event bus only.
    const service = new LifecycleService(repo, undefined as never, undefined as never, events, new AttestedReleaseReader(ds), config);
    let published = 0;
    const sub = events.stream(null, ['device.exposed']).subscribe(() => published++);
    const doc = rangeAdvisory();
    const csaf = await parseCsaf(doc);
    const { id } = await repo.upsertAdvisory(org, csaf, doc, 9.8);

    const t0 = performance.now();
    const exposed = await service.recomputeAdvisory(id);
    const firstMs = performance.now() - t0;
    const t1 = performance.now();
    const again = await service.recomputeAdvisory(id);
    const unchangedMs = performance.now() - t1;
    // A VEX statement clears the first ten releases: the recompute removes their devices.
    await repo.addVex(org, 'openvex', [{ vulnerability: csaf.vulnerabilities[0].id, status: 'not_affected', justification: 'vulnerable_code_not_present', products: Array.from({ length: 10 }, (_, i) => ({ name: 'lwip', version: lwipVersion(i, releases) })) }]);
    const t2 = performance.now();
    const afterVex = await service.recomputeAdvisory(id);
    const vexMs = performance.now() - t2;
    sub.unsubscribe();

    const affectedReleases = Math.floor(releases * 0.8);
    const expected = Array.from({ length: devices }, (_, g) => g % releases).filter((r) => r < affectedReleases).length;
    const expectedAfterVex = Array.from({ length: devices }, (_, g) => g % releases).filter((r) => r >= 10 && r < affectedReleases).length;
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM device_exposures WHERE advisory_id = $1`, [id]);
    if (exposed !== expected || again !== expected || afterVex !== expectedAfterVex || n !== expectedAfterVex || published !== expected) {
      throw new Error(`wrong exposure: ${JSON.stringify({ exposed, again, afterVex, stored: n, expected, expectedAfterVex, published })}`);
    }

    // Baseline: the same devices selected and written by one INSERT … SELECT (no matching, no events).
    await ds.query(`CREATE TABLE bench_floor (device_id varchar(64) PRIMARY KEY, version varchar(64))`);
    const versions = Array.from({ length: affectedReleases }, (_, i) => `4.${i}.0`);
    const b0 = performance.now();
    await ds.query(`INSERT INTO bench_floor SELECT id, firmware_version FROM devices WHERE status = 'active' AND affirmed_at IS NOT NULL AND firmware_version = ANY($1::varchar[])`, [versions]);
    const baselineMs = performance.now() - b0;

    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    const result = {
      bench: 'exposure',
      devices,
      releases,
      componentsPerRelease: 61,
      exposedDevices: exposed,
      ms: round(firstMs),
      unchangedMs: round(unchangedMs),
      afterVexMs: round(vexMs),
      afterVexExposed: afterVex,
      baselineMs: round(baselineMs),
      ratio: round(firstMs / baselineMs, 2),
      seedMs: round(seedMs),
      goalMs: GOAL_MS,
      withinGoal: firstMs < GOAL_MS && unchangedMs < GOAL_MS && vexMs < GOAL_MS,
      postgres: serverVersion,
      node: process.version,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
    process.stdout.write(
      `exposure: advisory over ${releases} releases, ${devices} attested devices → ${exposed} exposed in ${result.ms} ms ` +
        `(unchanged ${result.unchangedMs} ms, after a VEX not_affected ${result.afterVexMs} ms → ${afterVex}); ` +
        `SQL floor (INSERT … SELECT of the same devices) ${result.baselineMs} ms, ratio ${result.ratio}x; ` +
        `${result.withinGoal ? 'within' : 'OVER'} the ${GOAL_MS / 1000} s goal (PostgreSQL ${serverVersion})\n`,
    );
  } finally {
    events.onModuleDestroy();
    if (ds.isInitialized) await ds.destroy();
    if (flagArg('keep')) process.stderr.write(`kept database ${db.name}\n`);
    else await db.drop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
