import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { SbomComponent } from '../core/component';
import type { AdvisoryProduct, AdvisoryStatement, AdvisoryVulnerability, ParsedCsaf } from '../core/csaf.advisory';
import type { ReleaseFinding } from '../core/exposure.rules';
import type { ProductLifecycle } from '../core/product-lifecycle.rules';
import type { VexFormat, VexStatement } from '../core/vex.parser';

export interface StoredSbom {
  productId: string;
  version: string;
  format: string;
  specVersion: string;
  sha256: string;
  components: SbomComponent[];
  updatedAt: Date;
}

export interface StoredAdvisory {
  id: string;
  organizationId: string;
  trackingId: string;
  trackingVersion: string;
  title: string;
  category: string;
  publisher: string;
  products: AdvisoryProduct[];
  statements: AdvisoryStatement[];
  vulnerabilities: AdvisoryVulnerability[];
  maxCvss: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ReleaseWithSbom {
  productId: string;
  productName: string;
  version: string;
  components: SbomComponent[];
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * The lifecycle's own tables (release_sboms, advisories, vex_statements, release_findings, device_exposures, product_lifecycles);
 * devices and products are read through fleet's views (device_directory, product_directory).
 */
export class LifecycleRepository {
  constructor(private readonly ds: DataSource) {}

  async putSbom(s: Omit<StoredSbom, 'updatedAt'>): Promise<void> {
    await this.ds.query(
      `INSERT INTO release_sboms (product_id, version, format, spec_version, sha256, components, component_count) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (product_id, version) DO UPDATE SET format = EXCLUDED.format, spec_version = EXCLUDED.spec_version, sha256 = EXCLUDED.sha256,
         components = EXCLUDED.components, component_count = EXCLUDED.component_count, updated_at = now()`,
      [s.productId, s.version, s.format, s.specVersion, s.sha256, JSON.stringify(s.components), s.components.length],
    );
  }

  async getSbom(productId: string, version: string): Promise<StoredSbom | null> {
    const rows = await this.ds.query(`SELECT * FROM release_sboms WHERE product_id = $1 AND version = $2`, [productId, version]);
    const r = rows[0];
    return r ? { productId: r.product_id, version: r.version, format: r.format, specVersion: r.spec_version, sha256: r.sha256.trim(), components: r.components, updatedAt: r.updated_at } : null;
  }

  /** Every release of an organization's products that has an SBOM. */
  async releasesWithSbom(organizationId: string): Promise<ReleaseWithSbom[]> {
    const rows = await this.ds.query(
      `SELECT s.product_id, p.name AS product_name, s.version, s.components FROM release_sboms s JOIN product_directory p ON p.id = s.product_id WHERE p.organization_id = $1 ORDER BY s.product_id, s.version`,
      [organizationId],
    );
    return rows.map((r: any) => ({ productId: r.product_id, productName: r.product_name, version: r.version, components: r.components }));
  }

  /** Stores an advisory; the same tracking id from the same publisher replaces the earlier revision. */
  async upsertAdvisory(organizationId: string, a: ParsedCsaf, document: unknown, maxCvss: number | null): Promise<{ id: string; created: boolean }> {
    const rows = await this.ds.query(
      `INSERT INTO advisories (id, organization_id, tracking_id, tracking_version, title, category, publisher, products, statements, vulnerabilities, max_cvss, document)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (organization_id, tracking_id) DO UPDATE SET tracking_version = EXCLUDED.tracking_version, title = EXCLUDED.title, category = EXCLUDED.category,
         publisher = EXCLUDED.publisher, products = EXCLUDED.products, statements = EXCLUDED.statements, vulnerabilities = EXCLUDED.vulnerabilities,
         max_cvss = EXCLUDED.max_cvss, document = EXCLUDED.document, updated_at = now()
       RETURNING id, (created_at = updated_at) AS created`,
      [randomUUID(), organizationId, a.trackingId, a.version, a.title.slice(0, 1000), a.category, a.publisher.slice(0, 500), JSON.stringify(a.products), JSON.stringify(a.statements), JSON.stringify(a.vulnerabilities), maxCvss, JSON.stringify(document)],
    );
    const r = returningRows<{ id: string; created: boolean }>(rows)[0];
    return { id: r.id, created: r.created };
  }

  async advisory(id: string): Promise<StoredAdvisory | null> {
    const rows = await this.ds.query(`SELECT * FROM advisories WHERE id = $1`, [id]);
    return rows[0] ? toAdvisory(rows[0]) : null;
  }

  async advisoryIds(organizationId: string): Promise<string[]> {
    const rows = await this.ds.query(`SELECT id FROM advisories WHERE organization_id = $1 ORDER BY created_at`, [organizationId]);
    return rows.map((r: { id: string }) => r.id);
  }

  /** Advisories visible to the caller: its own (manufacturer), those of its devices' manufacturers (operator), all (null). */
  async listAdvisories(visibleTo: { organizationId: string; kind: 'owner' | 'operator' } | null): Promise<Array<StoredAdvisory & { exposedDevices: number }>> {
    const where = !visibleTo
      ? ''
      : visibleTo.kind === 'owner'
        ? 'WHERE a.organization_id = $1'
        : 'WHERE EXISTS (SELECT 1 FROM device_directory d WHERE d.manufacturer_org_id = a.organization_id AND d.operator_org_id = $1)';
    const countFilter = visibleTo?.kind === 'operator' ? 'AND d.operator_org_id = $1' : '';
    const rows = await this.ds.query(
      `SELECT a.*, (SELECT count(*)::int FROM device_exposures e JOIN device_directory d ON d.id = e.device_id WHERE e.advisory_id = a.id ${countFilter}) AS exposed_devices
       FROM advisories a ${where} ORDER BY a.max_cvss DESC NULLS LAST, a.created_at DESC LIMIT 1000`,
      visibleTo ? [visibleTo.organizationId] : [],
    );
    return rows.map((r: any) => ({ ...toAdvisory(r), exposedDevices: Number(r.exposed_devices) }));
  }

  async addVex(organizationId: string, format: VexFormat, statements: VexStatement[]): Promise<number> {
    return this.ds.transaction(async (m) => {
      for (const s of statements) {
        await m.query(
          `INSERT INTO vex_statements (id, organization_id, format, vulnerability, status, justification, impact_statement, products) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [randomUUID(), organizationId, format, s.vulnerability.slice(0, 200), s.status, s.justification?.slice(0, 1000) ?? null, s.impactStatement ?? null, JSON.stringify(s.products)],
        );
      }
      return statements.length;
    });
  }

  /** An organization's VEX statements about these vulnerabilities, oldest first. */
  async vexFor(organizationId: string, vulnerabilities: string[]): Promise<VexStatement[]> {
    if (!vulnerabilities.length) return [];
    const rows = await this.ds.query(
      `SELECT vulnerability, status, justification, impact_statement, products FROM vex_statements WHERE organization_id = $1 AND vulnerability = ANY($2::varchar[]) ORDER BY seq`,
      [organizationId, vulnerabilities],
    );
    return rows.map((r: any) => ({
      vulnerability: r.vulnerability,
      status: r.status,
      ...(r.justification ? { justification: r.justification } : {}),
      ...(r.impact_statement ? { impactStatement: r.impact_statement } : {}),
      products: r.products,
    }));
  }

  /** Advisories of an organization that name any of these vulnerabilities. */
  async advisoriesNaming(organizationId: string, vulnerabilities: string[]): Promise<string[]> {
    const rows = await this.ds.query(
      `SELECT DISTINCT a.id FROM advisories a, jsonb_array_elements(a.vulnerabilities) v WHERE a.organization_id = $1 AND v ->> 'id' = ANY($2::varchar[])`,
      [organizationId, vulnerabilities],
    );
    return rows.map((r: { id: string }) => r.id);
  }

  /** Replaces an advisory's findings per release (releases without findings get no row). */
  async replaceFindings(advisoryId: string, findings: Array<{ productId: string; version: string; findings: ReleaseFinding[]; maxCvss: number | null }>): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query(`DELETE FROM release_findings WHERE advisory_id = $1`, [advisoryId]);
      if (!findings.length) return;
      await m.query(
        `INSERT INTO release_findings (advisory_id, product_id, version, findings, max_cvss)
         SELECT $1, p, v, f::jsonb, c FROM unnest($2::uuid[], $3::varchar[], $4::text[], $5::numeric[]) AS t(p, v, f, c)`,
        [advisoryId, findings.map((f) => f.productId), findings.map((f) => f.version), findings.map((f) => JSON.stringify(f.findings)), findings.map((f) => f.maxCvss)],
      );
    });
  }

  /**
   * Sets the devices an advisory exposes, set-based: the stored set is read once and compared in
   * memory, then the devices no longer exposed (or now on another release) go in one DELETE and
   * the new ones come in one INSERT from arrays (nothing is written when nothing changed).
   * Returns the devices that became exposed.
   */
  async setAdvisoryExposures(advisoryId: string, devices: Array<{ deviceId: string; productId: string; version: string }>): Promise<string[]> {
    return this.ds.transaction(async (m) => {
      // One recompute of an advisory at a time (and none beside a device's own, which takes the same
      // lock): the set read here stays the set written, so the INSERT needs no ON CONFLICT.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('exposure:' || $1))`, [advisoryId]);
      const current: Array<{ device_id: string; version: string }> = await m.query(`SELECT device_id, version FROM device_exposures WHERE advisory_id = $1`, [advisoryId]);
      const wanted = new Map(devices.map((d) => [d.deviceId, d]));
      const have = new Map(current.map((r) => [r.device_id, r.version]));
      const gone = current.filter((r) => wanted.get(r.device_id)?.version !== r.version).map((r) => r.device_id);
      const fresh = devices.filter((d) => have.get(d.deviceId) !== d.version);
      if (gone.length) await m.query(`DELETE FROM device_exposures WHERE advisory_id = $1 AND device_id = ANY($2::varchar[])`, [advisoryId, gone]);
      if (!fresh.length) return [];
      // Devices travel as ids plus an index into the (few) releases, not one uuid per device.
      const releases = new Map<string, number>();
      const releaseOf = fresh.map((d) => {
        const key = `${d.productId}\u0000${d.version}`;
        let i = releases.get(key);
        if (i === undefined) releases.set(key, (i = releases.size + 1));
        return i;
      });
      const keys = [...releases.keys()].map((k) => k.split('\u0000'));
      await m.query(
        `INSERT INTO device_exposures (device_id, advisory_id, product_id, version)
         SELECT n.device_id, $1, r.product_id, r.version FROM unnest($2::varchar[], $3::int[]) AS n(device_id, release)
         JOIN unnest($4::uuid[], $5::varchar[]) WITH ORDINALITY AS r(product_id, version, i) ON r.i = n.release`,
        [advisoryId, fresh.map((d) => d.deviceId), releaseOf, keys.map((k) => k[0]), keys.map((k) => k[1])],
      );
      // A device that only moved between two affected releases was exposed already: not news.
      const moved = new Set(gone);
      return fresh.map((d) => d.deviceId).filter((id) => !moved.has(id));
    });
  }

  /**
   * What a recompute of these devices compares, in one statement: the advisories with findings on
   * each of `releases`, and the exposures stored for each of `deviceIds` (with the release they
   * were computed for). A burst of results on several releases costs this one read, not one per
   * release plus one.
   */
  async exposureInputs(
    releases: ReadonlyArray<{ productId: string; version: string }>,
    deviceIds: readonly string[],
  ): Promise<{ findings: Map<string, string[]>; stored: Map<string, Array<{ advisoryId: string; version: string }>> }> {
    const findings = new Map<string, string[]>();
    const stored = new Map<string, Array<{ advisoryId: string; version: string }>>();
    if (!releases.length && !deviceIds.length) return { findings, stored };
    const rows: Array<{ kind: 'f' | 'e'; k1: string; k2: string; advisory_id: string }> = await this.ds.query(
      `SELECT 'f' AS kind, f.product_id::text AS k1, f.version AS k2, f.advisory_id::text AS advisory_id
         FROM release_findings f JOIN unnest($1::uuid[], $2::varchar[]) AS r(product_id, version) ON f.product_id = r.product_id AND f.version = r.version
       UNION ALL
       SELECT 'e', e.device_id, e.version, e.advisory_id::text FROM device_exposures e WHERE e.device_id = ANY($3::varchar[])`,
      [releases.map((r) => r.productId), releases.map((r) => r.version), deviceIds],
    );
    for (const r of rows) {
      if (r.kind === 'f') {
        const key = releaseKey(r.k1, r.k2);
        const list = findings.get(key) ?? [];
        list.push(r.advisory_id);
        findings.set(key, list);
      } else {
        const list = stored.get(r.k1) ?? [];
        list.push({ advisoryId: r.advisory_id, version: r.k2 });
        stored.set(r.k1, list);
      }
    }
    return { findings, stored };
  }

  /** Sets one device's exposures to these advisories on this release; returns the advisories newly exposing it. */
  async setDeviceExposures(deviceId: string, release: { productId: string; version: string } | null, advisoryIds: string[]): Promise<string[]> {
    return this.ds.transaction(async (m: EntityManager) => {
      const locked = await m.query(`SELECT DISTINCT advisory_id FROM device_exposures WHERE device_id = $1`, [deviceId]);
      const all = [...new Set([...advisoryIds, ...locked.map((r: { advisory_id: string }) => r.advisory_id)])].sort();
      for (const a of all) await m.query(`SELECT pg_advisory_xact_lock(hashtext('exposure:' || $1))`, [a]);
      await m.query(`DELETE FROM device_exposures WHERE device_id = $1 AND (version <> $2 OR NOT (advisory_id = ANY($3::uuid[])))`, [deviceId, release?.version ?? '', advisoryIds]);
      if (!release || !advisoryIds.length) return [];
      const rows = await m.query(
        `INSERT INTO device_exposures (device_id, advisory_id, product_id, version) SELECT $1, a, $2, $3 FROM unnest($4::uuid[]) AS a
         ON CONFLICT (device_id, advisory_id) DO NOTHING RETURNING advisory_id`,
        [deviceId, release.productId, release.version, advisoryIds],
      );
      return returningRows<{ advisory_id: string }>(rows).map((r) => r.advisory_id);
    });
  }

  /** Fleet's device directory (alias d) joined to an advisory's exposures (alias e), for the caller to scope. */
  devicesExposedBy(advisoryId: string): SelectQueryBuilder<object> {
    return this.ds.createQueryBuilder().from('device_directory', 'd').innerJoin('device_exposures', 'e', 'e.device_id = d.id AND e.advisory_id = :advisoryId', { advisoryId });
  }

  /** A device's exposures with the advisories and the release's findings. */
  async deviceExposures(deviceId: string): Promise<Array<{ advisory: StoredAdvisory; version: string; since: Date; findings: ReleaseFinding[] }>> {
    const rows = await this.ds.query(
      `SELECT e.version, e.since, a.*, COALESCE(f.findings, '[]'::jsonb) AS findings FROM device_exposures e JOIN advisories a ON a.id = e.advisory_id
       LEFT JOIN release_findings f ON f.advisory_id = e.advisory_id AND f.product_id = e.product_id AND f.version = e.version
       WHERE e.device_id = $1 ORDER BY a.max_cvss DESC NULLS LAST, e.since`,
      [deviceId],
    );
    return rows.map((r: any) => ({ advisory: toAdvisory(r), version: r.version, since: r.since, findings: r.findings }));
  }

  async putLifecycle(productId: string, l: ProductLifecycle): Promise<void> {
    await this.ds.query(
      `INSERT INTO product_lifecycles (product_id, general_availability, end_of_sales, end_of_security_support, end_of_life) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (product_id) DO UPDATE SET general_availability = EXCLUDED.general_availability, end_of_sales = EXCLUDED.end_of_sales, end_of_life = EXCLUDED.end_of_life,
         unsupported_notified_at = CASE WHEN product_lifecycles.end_of_security_support IS DISTINCT FROM EXCLUDED.end_of_security_support THEN NULL ELSE product_lifecycles.unsupported_notified_at END,
         end_of_security_support = EXCLUDED.end_of_security_support, updated_at = now()`,
      [productId, l.generalAvailability, l.endOfSales, l.endOfSecuritySupport, l.endOfLife],
    );
  }

  async getLifecycle(productId: string): Promise<(ProductLifecycle & { unsupportedNotifiedAt: string | null }) | null> {
    const rows = await this.ds.query(`SELECT * FROM product_lifecycles WHERE product_id = $1`, [productId]);
    const r = rows[0];
    if (!r) return null;
    const iso = (v: Date | string | null) => (v ? new Date(v).toISOString() : null);
    return {
      generalAvailability: iso(r.general_availability),
      endOfSales: iso(r.end_of_sales),
      endOfSecuritySupport: iso(r.end_of_security_support),
      endOfLife: iso(r.end_of_life),
      unsupportedNotifiedAt: iso(r.unsupported_notified_at),
    };
  }

  /**
   * Claims the products that passed end of security support and were not announced yet, marking
   * them announced in the same statement (so one sweep, on any instance, announces each once),
   * and returns them with their active devices.
   */
  async claimNewlyUnsupported(now: Date): Promise<Array<{ productId: string; endOfSecuritySupport: string; devices: Array<{ id: string; manufacturerOrgId: string; operatorOrgId: string | null }> }>> {
    const claimed = returningRows<{ product_id: string; end_of_security_support: Date | string }>(
      await this.ds.query(
        `UPDATE product_lifecycles SET unsupported_notified_at = $1 WHERE end_of_security_support <= $1 AND unsupported_notified_at IS NULL RETURNING product_id, end_of_security_support`,
        [now],
      ),
    );
    const out = [];
    for (const c of claimed) {
      const devices = await this.ds.query(`SELECT id, manufacturer_org_id, operator_org_id FROM device_directory WHERE product_id = $1 AND status = 'active' ORDER BY seq`, [c.product_id]);
      out.push({
        productId: c.product_id,
        endOfSecuritySupport: new Date(c.end_of_security_support).toISOString(),
        devices: devices.map((d: any) => ({ id: d.id, manufacturerOrgId: d.manufacturer_org_id, operatorOrgId: d.operator_org_id })),
      });
    }
    return out;
  }

  /** SQL of the ids of devices exposed now (for the fleet's device list filter). */
  static readonly EXPOSED_DEVICE_IDS_SQL = 'SELECT e.device_id FROM device_exposures e';
}

function toAdvisory(r: any): StoredAdvisory {
  return {
    id: r.id,
    organizationId: r.organization_id,
    trackingId: r.tracking_id,
    trackingVersion: r.tracking_version,
    title: r.title,
    category: r.category,
    publisher: r.publisher,
    products: r.products,
    statements: r.statements,
    vulnerabilities: r.vulnerabilities,
    maxCvss: num(r.max_cvss),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The key of a release in exposureInputs()'s findings. */
export function releaseKey(productId: string, version: string): string {
  return `${productId}\n${version}`;
}
