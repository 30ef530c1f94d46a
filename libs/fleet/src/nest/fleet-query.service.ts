import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, SelectQueryBuilder } from 'typeorm';
import {
  AppConfig,
  FRS,
  Fr,
  INTEGRITY_STATUSES,
  IntegritySqlNames,
  IntegrityStatus,
  integritySql,
  integrityStatus,
  invalid,
  lacksFreshAffirmationSql,
  staleAfterSeconds,
  staleCutoff,
} from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { Principal } from '@fleetguard/auth/nest';
import { decodeDeviceCursor, encodeDeviceCursor } from '../core/device-cursor';
import { FleetReportRow } from '../core/fleet-report.format';
import { LevelVector } from '../core/product.rules';
import { EXPOSED_DEVICES_FILTER, ExposedDevicesFilter } from '../core/exposure-filter.port';
import { DeviceEntity } from '../entities/device.entity';
import { ProductEntity } from '../entities/product.entity';
import { DevicesService } from './devices.service';
import { ProductsService } from './products.service';

export interface DeviceFilter {
  /** Any of these integrity statuses. */
  statuses?: IntegrityStatus[];
  productId?: string;
  firmwareVersion?: string;
  belowTarget?: boolean;
  /** Active devices without a fresh affirming result (true), or the others (false). */
  stale?: boolean;
  /** Devices whose attested release has an unmitigated advisory (true), or the others (false). */
  exposed?: boolean;
}

export interface DevicePage {
  items: Array<{ device: DeviceEntity; integrity: IntegrityStatus }>;
  next: string | null;
}

export const SL_LEVELS = ['0', '1', '2', '3', '4'] as const;

export interface FleetSummary {
  generatedAt: string;
  /** Devices without an affirming result for this long are stale (2 × FLEETGUARD_ATTEST_INTERVAL_SECONDS). */
  staleAfterSeconds: number;
  /** Every device the caller can see, revoked ones included. */
  total: number;
  products: number;
  /** A partition of `total` by integrity status. */
  byStatus: Record<IntegrityStatus, number>;
  /** Active devices whose evidenced SL-C vector is below their product's target. */
  belowTarget: number;
  /** Active devices with a score. */
  scored: number;
  /** Active scored devices per evidenced SL-C, per FR: `{FR1: {"0": n, ..., "4": n}, ...}`. */
  slDistribution: Record<Fr, Record<(typeof SL_LEVELS)[number], number>>;
  /** Firmware versions that active devices report. */
  firmwareVersions: Array<{ productId: string; productName: string | null; version: string; count: number }>;
}

/**
 * The integrity status of the kernel (@fleetguard/common integrity-status.ts), in SQL over the
 * `devices` row aliased `d`, with the stale cutoff bound as :staleCutoff (computed once per
 * request from the same clock).
 */
const DEVICE_INTEGRITY: IntegritySqlNames = { status: 'd.status', attestationStatus: 'd.attestation_status', affirmedAt: 'd.affirmed_at', cutoff: ':staleCutoff' };
const INTEGRITY_SQL = integritySql(DEVICE_INTEGRITY);
const LACKS_FRESH_SQL = lacksFreshAffirmationSql(DEVICE_INTEGRITY);

const REPORT_BATCH = 1000;

/**
 * Read side of the fleet: the device list with its filters and keyset pages, the summary the
 * dashboard opens with, and the report in batches. Every query is scoped to the caller's tenant
 * the way DevicesService.scope says.
 */
@Injectable()
export class FleetQueryService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly devices: DevicesService,
    private readonly products: ProductsService,
    @Optional() @Inject(EXPOSED_DEVICES_FILTER) private readonly exposure?: ExposedDevicesFilter,
  ) {}

  get staleAfterSeconds(): number {
    return staleAfterSeconds(this.config.attestIntervalSeconds);
  }

  integrityOf(d: DeviceEntity, now = new Date()): IntegrityStatus {
    return integrityStatus(d, now, this.config.attestIntervalSeconds);
  }

  async list(p: Principal, filter: DeviceFilter, page: { cursor?: string; limit: number }, now = new Date()): Promise<DevicePage> {
    const after = page.cursor ? decodeDeviceCursor(page.cursor) : null;
    const qb = this.scoped(p, now);
    this.filter(qb, filter);
    if (after !== null) qb.andWhere('d.seq > :after', { after });
    const rows = await qb.orderBy('d.seq', 'ASC').limit(page.limit + 1).getMany();
    const items = rows.slice(0, page.limit);
    return {
      items: items.map((device) => ({ device, integrity: this.integrityOf(device, now) })),
      next: rows.length > page.limit ? encodeDeviceCursor(items[items.length - 1].seq) : null,
    };
  }

  async summary(p: Principal, now = new Date()): Promise<FleetSummary> {
    const counts = this.scoped(p, now).select('count(*)::int', 'total');
    for (const s of INTEGRITY_STATUSES) counts.addSelect(`count(*) FILTER (WHERE ${INTEGRITY_SQL} = '${s}')::int`, `status_${s}`);
    counts.addSelect(`count(*) FILTER (WHERE d.status = 'active' AND d.below_target)::int`, 'below_target');
    counts.addSelect(`count(*) FILTER (WHERE d.status = 'active' AND d.sl_evidenced IS NOT NULL)::int`, 'scored');
    for (const fr of FRS) {
      for (const l of SL_LEVELS) {
        counts.addSelect(`count(*) FILTER (WHERE d.status = 'active' AND d.sl_evidenced ->> '${fr}' = '${l}')::int`, `sl_${fr}_${l}`);
      }
    }
    const c: Record<string, number> = (await counts.getRawOne()) ?? {};
    const firmware = await this.scoped(p, now)
      .leftJoin(ProductEntity, 'p', 'p.id = d.product_id')
      .select('d.product_id', 'product_id')
      .addSelect('p.name', 'product_name')
      .addSelect('d.firmware_version', 'version')
      .addSelect('count(*)::int', 'n')
      .andWhere(`d.status = 'active' AND d.firmware_version IS NOT NULL`)
      .groupBy('d.product_id')
      .addGroupBy('p.name')
      .addGroupBy('d.firmware_version')
      .orderBy('p.name', 'ASC')
      .addOrderBy('n', 'DESC')
      .addOrderBy('d.firmware_version', 'ASC')
      .getRawMany<{ product_id: string; product_name: string | null; version: string; n: number }>();
    const products = await this.products.list(p);
    return {
      generatedAt: now.toISOString(),
      staleAfterSeconds: this.staleAfterSeconds,
      total: c.total ?? 0,
      products: products.length,
      byStatus: Object.fromEntries(INTEGRITY_STATUSES.map((s) => [s, c[`status_${s}`] ?? 0])) as Record<IntegrityStatus, number>,
      belowTarget: c.below_target ?? 0,
      scored: c.scored ?? 0,
      slDistribution: Object.fromEntries(FRS.map((fr) => [fr, Object.fromEntries(SL_LEVELS.map((l) => [l, c[`sl_${fr}_${l}`] ?? 0]))])) as FleetSummary['slDistribution'],
      firmwareVersions: firmware.map((r) => ({ productId: r.product_id, productName: r.product_name, version: r.version, count: Number(r.n) })),
    };
  }

  /**
   * The report, one batch of up to 1000 devices at a time in seq order (keyset, so memory stays
   * flat whatever the fleet's size; devices added meanwhile come at the end).
   */
  async *report(p: Principal, now = new Date(), batchSize = REPORT_BATCH): AsyncGenerator<FleetReportRow[]> {
    let after = '0';
    for (;;) {
      const rows = await this.scoped(p, now)
        .leftJoin(ProductEntity, 'p', 'p.id = d.product_id')
        .select(['d.id AS id', 'd.seq AS seq', 'd.product_id AS product_id', 'p.name AS product_name', 'd.operator_org_id AS operator_org_id'])
        .addSelect(['d.status AS status', 'd.firmware_version AS firmware_version', 'd.firmware_security_counter AS security_counter'])
        .addSelect(['d.attestation_status AS attestation_status', 'd.attestation_at AS attestation_at', 'd.affirmed_at AS affirmed_at'])
        .addSelect(['d.sl_evidenced AS sl_evidenced', 'd.sl_declared AS sl_declared', 'd.below_target AS below_target', 'd.last_seen_at AS last_seen_at', 'd.created_at AS created_at'])
        .andWhere('d.seq > :after', { after })
        .orderBy('d.seq', 'ASC')
        .limit(batchSize)
        .getRawMany<RawReportRow>();
      if (!rows.length) return;
      yield rows.map((r) => this.toReportRow(r, now));
      if (rows.length < batchSize) return;
      after = String(rows[rows.length - 1].seq);
    }
  }

  private toReportRow(r: RawReportRow, now: Date): FleetReportRow {
    const affirmedAt = toDate(r.affirmed_at);
    return {
      id: r.id,
      productId: r.product_id,
      productName: r.product_name,
      operatorId: r.operator_org_id,
      status: r.status,
      integrity: integrityStatus({ status: r.status, attestationStatus: r.attestation_status, affirmedAt }, now, this.config.attestIntervalSeconds),
      firmwareVersion: r.firmware_version,
      securityCounter: r.security_counter === null ? null : Number(r.security_counter),
      lastAttestationStatus: r.attestation_status,
      lastAttestationAt: iso(r.attestation_at),
      affirmedAt: iso(affirmedAt),
      evidenced: r.sl_evidenced,
      declared: r.sl_declared,
      belowTarget: r.below_target,
      lastSeenAt: iso(r.last_seen_at),
      enrolledAt: iso(r.created_at),
    };
  }

  /** Devices the caller may see, with :staleCutoff bound for the integrity expressions. */
  private scoped(p: Principal, now: Date): SelectQueryBuilder<DeviceEntity> {
    const qb = this.ds.getRepository(DeviceEntity).createQueryBuilder('d');
    this.devices.scope(qb, p, 'd');
    return qb.setParameter('staleCutoff', staleCutoff(now, this.config.attestIntervalSeconds));
  }

  private filter(qb: SelectQueryBuilder<DeviceEntity>, f: DeviceFilter): void {
    if (f.statuses?.length) qb.andWhere(`${INTEGRITY_SQL} IN (:...statuses)`, { statuses: f.statuses });
    if (f.productId) qb.andWhere('d.product_id = :productId', { productId: f.productId });
    if (f.firmwareVersion) qb.andWhere('d.firmware_version = :firmwareVersion', { firmwareVersion: f.firmwareVersion });
    if (f.belowTarget !== undefined) qb.andWhere(f.belowTarget ? 'd.below_target IS TRUE' : 'd.below_target IS FALSE');
    if (f.stale !== undefined) qb.andWhere(f.stale ? LACKS_FRESH_SQL : `NOT ${LACKS_FRESH_SQL}`);
    if (f.exposed !== undefined) {
      if (!this.exposure) throw invalid('fleet.no-exposure', 'exposure is not tracked by this service');
      qb.andWhere(`d.id ${f.exposed ? 'IN' : 'NOT IN'} (${this.exposure.exposedDeviceIdsSql})`);
    }
  }
}

interface RawReportRow {
  id: string;
  seq: string | number;
  product_id: string;
  product_name: string | null;
  operator_org_id: string | null;
  status: string;
  firmware_version: string | null;
  security_counter: number | string | null;
  attestation_status: string | null;
  attestation_at: Date | string | null;
  affirmed_at: Date | string | null;
  sl_evidenced: Partial<LevelVector> | null;
  sl_declared: Partial<LevelVector> | null;
  below_target: boolean | null;
  last_seen_at: Date | string | null;
  created_at: Date | string | null;
}

function toDate(v: Date | string | null): Date | null {
  return v === null || v === undefined ? null : v instanceof Date ? v : new Date(v);
}

function iso(v: Date | string | null): string | null {
  return toDate(v)?.toISOString() ?? null;
}
