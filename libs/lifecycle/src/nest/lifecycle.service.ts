import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AppConfig, CoalescedBatches, notFound } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { Principal, hasRole } from '@fleetguard/auth/nest';
import { DevicesService, ProductsService } from '@fleetguard/fleet/nest';
import { FleetEventBus, type Unsubscribe } from '@fleetguard/events';
import { purlKey } from '../core/component';
import { ATTESTED_RELEASES, AttestedReleasePort } from '../core/attested-release.port';
import { parseCsaf } from '../core/csaf.advisory';
import { affectedComponents, severityOf } from '../core/exposure.rules';
import { MatchableComponent } from '../core/product-matcher';
import { checkLifecycle, isUnsupported } from '../core/product-lifecycle.rules';
import { parseSbom } from '../core/sbom.parser';
import { parseVex } from '../core/vex.parser';
import { LifecycleRepository, StoredAdvisory, releaseKey } from './lifecycle.repository';

const UNSUPPORTED_SWEEP_MS = 60_000;

/**
 * The 62443-4-1 lifecycle: SBOMs per release, CSAF advisories, VEX statements, product lifecycle
 * dates, and the exposure of each device computed from its ATTESTED release (the port bound at
 * the composition root), recomputed when any of them changes; `device.exposed` and
 * `device.unsupported` events.
 */
@Injectable()
export class LifecycleService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Lifecycle');
  private unsubscribe?: Unsubscribe;
  private timer?: NodeJS.Timeout;
  /** Devices whose exposure follows an affirming result, recomputed together after FLEETGUARD_FOLLOWUP_WINDOW_MS. */
  private readonly recomputePending: CoalescedBatches<string, true>;

  constructor(
    private readonly repo: LifecycleRepository,
    private readonly products: ProductsService,
    private readonly devices: DevicesService,
    private readonly events: FleetEventBus,
    @Inject(ATTESTED_RELEASES) private readonly attested: AttestedReleasePort,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.recomputePending = new CoalescedBatches<string, true>({
      windowMs: config.followupWindowMs,
      maxBatch: 500,
      run: (batch) => this.recomputeDevices(batch.map(([id]) => id)),
      onError: (err, size) => this.logger.warn(`exposure of ${size} device(s): ${(err as Error)?.message ?? String(err)}`),
    });
  }

  onApplicationBootstrap(): void {
    // An affirming result may move a device to another release: its exposure follows.
    this.unsubscribe = this.events.on('attestation.result', (e) => {
      if (e.deviceId && e.data.status === 'affirming') this.queueRecompute(e.deviceId);
    });
    this.timer = setInterval(() => void this.sweepUnsupported().catch((err) => this.logger.warn(`unsupported sweep: ${(err as Error).message}`)), UNSUPPORTED_SWEEP_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    // Affirming results already received get their exposure now, not after their window.
    const deadline = new Promise((r) => setTimeout(r, 5000).unref());
    await Promise.race([this.recomputePending.flush(), deadline]);
  }

  /* ------------------------------------------------------------- SBOM */

  async putSbom(p: Principal, productId: string, version: string, bytes: Buffer) {
    await this.products.getOwned(p, productId);
    const sbom = parseSbom(bytes);
    await this.repo.putSbom({ productId, version, format: sbom.format, specVersion: sbom.specVersion, sha256: createHash('sha256').update(bytes).digest('hex'), components: sbom.components });
    for (const id of await this.repo.advisoryIds(p.organizationId)) await this.recomputeAdvisory(id);
    return this.getSbom(p, productId, version);
  }

  async getSbom(p: Principal, productId: string, version: string) {
    await this.products.get(p, productId);
    const s = await this.repo.getSbom(productId, version);
    if (!s) throw notFound('sbom.not-found', `release ${version} of product ${productId} has no SBOM`);
    return { productId, version, format: s.format, specVersion: s.specVersion, sha256: s.sha256, updatedAt: s.updatedAt, components: s.components };
  }

  /* ------------------------------------------------------------- advisories and VEX */

  async postAdvisory(p: Principal, document: unknown) {
    const csaf = await parseCsaf(document);
    const maxCvss = csaf.vulnerabilities.reduce<number | null>((m, v) => (v.cvss && (m === null || v.cvss.baseScore > m) ? v.cvss.baseScore : m), null);
    const { id, created } = await this.repo.upsertAdvisory(p.organizationId, csaf, document, maxCvss);
    const exposed = await this.recomputeAdvisory(id);
    return { created, advisory: { ...this.advisoryView((await this.repo.advisory(id))!), exposedDevices: exposed } };
  }

  async postVex(p: Principal, document: unknown) {
    const vex = await parseVex(document);
    const n = await this.repo.addVex(p.organizationId, vex.format, vex.statements);
    const ids = await this.repo.advisoriesNaming(p.organizationId, [...new Set(vex.statements.map((s) => s.vulnerability))]);
    for (const id of ids) await this.recomputeAdvisory(id);
    return { format: vex.format, statements: n, advisoriesRecomputed: ids.length };
  }

  async listAdvisories(p: Principal) {
    const visibleTo = hasRole(p, 'admin') || hasRole(p, 'auditor') && p.organizationKind === 'system' ? null : { organizationId: p.organizationId, kind: p.organizationKind === 'manufacturer' ? ('owner' as const) : ('operator' as const) };
    const rows = await this.repo.listAdvisories(visibleTo);
    return { items: rows.map((a) => ({ ...this.advisoryView(a), exposedDevices: a.exposedDevices })) };
  }

  async getAdvisory(p: Principal, id: string) {
    return this.advisoryView(await this.visibleAdvisory(p, id));
  }

  /** The devices (the caller may see) this advisory exposes now. */
  async advisoryDevices(p: Principal, id: string, limit = 1000) {
    const a = await this.visibleAdvisory(p, id);
    const qb = this.devices
      .scope(this.repo.devicesExposedBy(a.id), p, 'd')
      .select(['d.id AS id', 'd.product_id AS product_id', 'd.operator_org_id AS operator_org_id', 'e.version AS version', 'e.since AS since'])
      .orderBy('d.seq', 'ASC')
      .limit(limit);
    const rows = await qb.getRawMany<{ id: string; product_id: string; operator_org_id: string | null; version: string; since: Date }>();
    return { advisoryId: a.id, trackingId: a.trackingId, items: rows.map((r) => ({ deviceId: r.id, productId: r.product_id, operatorId: r.operator_org_id, attestedVersion: r.version, since: new Date(r.since).toISOString() })) };
  }

  async deviceExposure(p: Principal, deviceId: string) {
    await this.devices.get(p, deviceId);
    const release = await this.attested.attestedRelease(deviceId);
    const rows = await this.repo.deviceExposures(deviceId);
    const lifecycle = release ? await this.repo.getLifecycle(release.productId) : null;
    return {
      deviceId,
      attestedRelease: release ? { productId: release.productId, version: release.version } : null,
      exposed: rows.length > 0,
      unsupported: lifecycle ? isUnsupported(lifecycle, new Date()) : false,
      advisories: rows.map((r) => ({
        id: r.advisory.id,
        trackingId: r.advisory.trackingId,
        title: r.advisory.title,
        maxCvss: r.advisory.maxCvss,
        severity: severityOf(r.advisory.maxCvss),
        since: new Date(r.since).toISOString(),
        findings: r.findings,
      })),
    };
  }

  private async visibleAdvisory(p: Principal, id: string): Promise<StoredAdvisory> {
    const a = /^[0-9a-f-]{36}$/i.test(id) ? await this.repo.advisory(id) : null;
    if (!a) throw notFound('advisory.not-found', `no advisory ${id}`);
    if (hasRole(p, 'admin') || a.organizationId === p.organizationId) return a;
    if (p.organizationKind === 'operator') {
      const visible = await this.repo.listAdvisories({ organizationId: p.organizationId, kind: 'operator' });
      if (visible.some((v) => v.id === id)) return a;
    }
    throw notFound('advisory.not-found', `no advisory ${id}`);
  }

  private advisoryView(a: StoredAdvisory) {
    return {
      id: a.id,
      trackingId: a.trackingId,
      trackingVersion: a.trackingVersion,
      title: a.title,
      category: a.category,
      publisher: a.publisher,
      maxCvss: a.maxCvss,
      severity: severityOf(a.maxCvss),
      vulnerabilities: a.vulnerabilities,
      products: a.products,
      createdAt: a.createdAt,
      updatedAt: a.updatedAt,
    };
  }

  /* ------------------------------------------------------------- exposure */

  /**
   * Recomputes one advisory: its findings per release of the publisher's products (SBOM
   * components and the release itself, less VEX not_affected / fixed), then the devices
   * ATTESTED on an affected release (one query through the port, one set-based write). Returns
   * how many devices it exposes; those newly exposed get `device.exposed`.
   */
  async recomputeAdvisory(advisoryId: string): Promise<number> {
    const a = await this.repo.advisory(advisoryId);
    if (!a) return 0;
    const releases = await this.repo.releasesWithSbom(a.organizationId);
    const vex = await this.repo.vexFor(a.organizationId, a.vulnerabilities.map((v) => v.id));
    const cvss = Object.fromEntries(a.vulnerabilities.map((v) => [v.id, v.cvss]));
    const results = [];
    for (const r of releases) {
      const components: MatchableComponent[] = r.components.map((c) => ({ ...c, purlKey: c.purl ? (purlKey(c.purl)?.key ?? null) : null }));
      const findings = affectedComponents({ name: r.productName, version: r.version }, components, { products: a.products, statements: a.statements, cvss }, vex);
      if (!findings.length) continue;
      const maxCvss = findings.reduce<number | null>((m, f) => (f.cvss && (m === null || f.cvss.baseScore > m) ? f.cvss.baseScore : m), null);
      results.push({ productId: r.productId, version: r.version, findings, maxCvss });
    }
    await this.repo.replaceFindings(advisoryId, results);
    const devices = results.length ? await this.attested.devicesAttestedOn(results.map((r) => ({ productId: r.productId, version: r.version }))) : [];
    const newly = new Set(await this.repo.setAdvisoryExposures(advisoryId, devices));
    if (newly.size) {
      const severity = severityOf(a.maxCvss);
      this.events.publishMany(
        'device.exposed',
        devices
          .filter((d) => newly.has(d.deviceId))
          .map((d) => ({ deviceId: d.deviceId, audience: [d.manufacturerOrgId, d.operatorOrgId], data: { advisoryId, trackingId: a.trackingId, attestedVersion: d.version, productId: d.productId, maxCvss: a.maxCvss, severity } })),
      );
    }
    return devices.length;
  }

  /** Recomputes one device after its attested release may have changed. */
  async recomputeDevice(deviceId: string): Promise<void> {
    await this.recomputeDevices([deviceId]);
  }

  /** Affirming results gathering in the window are recomputed together. */
  private queueRecompute(deviceId: string): void {
    this.recomputePending.add(deviceId, () => true);
  }

  /**
   * The exposure of these devices on the release each is attested on. Most results re-affirm the
   * same release: then two reads for the whole batch (the releases through the port; their
   * findings and the stored exposures in one statement) and nothing is written.
   */
  async recomputeDevices(deviceIds: readonly string[]): Promise<void> {
    const releases = new Map((await this.attested.attestedReleases(deviceIds)).map((r) => [r.deviceId, r]));
    const distinct = new Map<string, { productId: string; version: string }>();
    for (const r of releases.values()) distinct.set(releaseKey(r.productId, r.version), { productId: r.productId, version: r.version });
    const inputs = await this.repo.exposureInputs([...distinct.values()], deviceIds);
    for (const deviceId of deviceIds) {
      const release = releases.get(deviceId) ?? null;
      const advisoryIds = release ? (inputs.findings.get(releaseKey(release.productId, release.version)) ?? []) : [];
      const now = inputs.stored.get(deviceId) ?? [];
      const want = new Set(advisoryIds);
      if (now.length === want.size && now.every((e) => want.has(e.advisoryId) && e.version === release?.version)) continue;
      const newly = await this.repo.setDeviceExposures(deviceId, release, advisoryIds);
      if (!release || !newly.length) continue;
      for (const advisoryId of newly) {
        const a = await this.repo.advisory(advisoryId);
        this.events.publish('device.exposed', {
          deviceId,
          audience: [release.manufacturerOrgId, release.operatorOrgId],
          data: { advisoryId, trackingId: a?.trackingId, attestedVersion: release.version, productId: release.productId, maxCvss: a?.maxCvss ?? null, severity: severityOf(a?.maxCvss) },
        });
      }
    }
  }

  /* ------------------------------------------------------------- lifecycle dates */

  async putLifecycle(p: Principal, productId: string, body: Record<string, unknown>) {
    await this.products.getOwned(p, productId);
    await this.repo.putLifecycle(productId, checkLifecycle(body));
    await this.sweepUnsupported();
    return this.getLifecycle(p, productId);
  }

  async getLifecycle(p: Principal, productId: string) {
    await this.products.get(p, productId);
    const l = await this.repo.getLifecycle(productId);
    const dates = l ?? { generalAvailability: null, endOfSales: null, endOfSecuritySupport: null, endOfLife: null, unsupportedNotifiedAt: null };
    const { unsupportedNotifiedAt: _n, ...openEoX } = dates;
    return { productId, ...openEoX, securitySupported: !isUnsupported(dates, new Date()) };
  }

  /** Announces `device.unsupported` for every device of a product that passed end of security support (once per product and date). */
  async sweepUnsupported(now = new Date()): Promise<number> {
    let n = 0;
    for (const product of await this.repo.claimNewlyUnsupported(now)) {
      this.events.publishMany(
        'device.unsupported',
        product.devices.map((d) => ({ deviceId: d.id, audience: [d.manufacturerOrgId, d.operatorOrgId], data: { productId: product.productId, endOfSecuritySupport: product.endOfSecuritySupport } })),
      );
      n += product.devices.length;
    }
    return n;
  }
}
