/**
 * A stored fleet for the benchmarks (score-stored, zone-assessment): N devices over 32 products of
 * the four component types, each with a hardening report and an attestation state (affirming,
 * warning, contraindicated, stale, never attested), inserted with one statement per table per
 * chunk; reports and products come from the pure benchmark's generator (score-pure.ts).
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FR_KEYS, applicableItems, loadCatalog } from '@fleetguard/hardening';
import { generate, products, rng } from '../score-pure';

const SEED_CHUNK = 5000;

/** How each generated attestation result is stored on the device row (stale: affirmed an hour ago). */
const ATTESTATION_ROW: Record<string, { status: string | null; affirmedAgoSeconds: number | null }> = {
  affirming: { status: 'affirming', affirmedAgoSeconds: 60 },
  warning: { status: 'warning', affirmedAgoSeconds: 120 },
  contraindicated: { status: 'contraindicated', affirmedAgoSeconds: 3 * 86400 },
  stale: { status: 'affirming', affirmedAgoSeconds: 3600 },
  none: { status: null, affirmedAgoSeconds: null },
};

/** Organizations, products and devices with reports, in chunks (one statement per table per chunk). */
export async function seedStoredFleet(ds: DataSource, devices: number, seed: number): Promise<{ organizationId: string; deviceIds: string[] }> {
  const deviceIds: string[] = [];
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
    for (const row of rows) deviceIds.push(row.id);
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
  return { organizationId: org, deviceIds };
}

