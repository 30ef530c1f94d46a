import type { DataSource } from 'typeorm';
import { severityOf } from '../core/exposure.rules';

/** What the lifecycle knows of one device's attested release (the shape of hardening's `LIFECYCLE_FACTS` port). */
export interface DeviceLifecycleFactsRow {
  deviceId: string;
  exposures: Array<{ advisoryId: string; trackingId: string; title: string; maxCvss: number | null; severity: ReturnType<typeof severityOf>; vulnerabilities: string[] }>;
  endOfSecuritySupport: string | null;
  endOfLife: string | null;
  sbom: boolean | null;
}

/**
 * The lifecycle facts the 62443 view shows as findings: exposures of the device on the release it
 * is attested on, the product's end of security support and of life, and whether that release has
 * an SBOM. Three queries over the lifecycle's own tables for any number of devices. Bound to
 * hardening's `LIFECYCLE_FACTS` port at the composition root (apps/fleet-server/src/ports.module.ts).
 */
export class LifecycleFactsReader {
  constructor(private readonly ds: DataSource) {}

  async factsFor(devices: ReadonlyArray<{ deviceId: string; productId: string; version: string | null }>): Promise<Map<string, DeviceLifecycleFactsRow>> {
    const out = new Map<string, DeviceLifecycleFactsRow>();
    const attested = devices.filter((d) => d.version !== null);
    if (!attested.length) return out;
    const ids = attested.map((d) => d.deviceId);
    const products = [...new Set(attested.map((d) => d.productId))];
    const [exposures, lifecycles, sboms] = await Promise.all([
      this.ds.query(
        `SELECT e.device_id, e.version, a.id, a.tracking_id, a.title, a.max_cvss, a.vulnerabilities FROM device_exposures e JOIN advisories a ON a.id = e.advisory_id
         WHERE e.device_id = ANY($1::varchar[]) ORDER BY a.max_cvss DESC NULLS LAST, e.since`,
        [ids],
      ),
      this.ds.query(`SELECT product_id, end_of_security_support, end_of_life FROM product_lifecycles WHERE product_id = ANY($1::uuid[])`, [products]),
      this.ds.query(
        `SELECT s.product_id, s.version FROM release_sboms s JOIN unnest($1::uuid[], $2::varchar[]) AS r(product_id, version) ON s.product_id = r.product_id AND s.version = r.version`,
        [attested.map((d) => d.productId), attested.map((d) => d.version)],
      ),
    ]);
    const lifecycle = new Map<string, { eoss: string | null; eol: string | null }>(
      lifecycles.map((r: any) => [r.product_id, { eoss: iso(r.end_of_security_support), eol: iso(r.end_of_life) }]),
    );
    const withSbom = new Set<string>(sboms.map((r: any) => `${r.product_id} ${r.version}`));
    for (const d of attested) {
      const l = lifecycle.get(d.productId);
      out.set(d.deviceId, { deviceId: d.deviceId, exposures: [], endOfSecuritySupport: l?.eoss ?? null, endOfLife: l?.eol ?? null, sbom: withSbom.has(`${d.productId} ${d.version}`) });
    }
    const versionOf = new Map(attested.map((d) => [d.deviceId, d.version]));
    for (const r of exposures) {
      // Only exposures of the release the device is attested on now (a recompute may be under way).
      if (versionOf.get(r.device_id) !== r.version) continue;
      const maxCvss = r.max_cvss === null || r.max_cvss === undefined ? null : Number(r.max_cvss);
      out.get(r.device_id)!.exposures.push({
        advisoryId: r.id,
        trackingId: r.tracking_id,
        title: r.title,
        maxCvss,
        severity: severityOf(maxCvss),
        vulnerabilities: (Array.isArray(r.vulnerabilities) ? r.vulnerabilities : []).map((v: { id: string }) => v.id),
      });
    }
    return out;
  }
}

function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}
