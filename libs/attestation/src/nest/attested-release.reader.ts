import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface AttestedReleaseRow {
  deviceId: string;
  productId: string;
  version: string;
  manufacturerOrgId: string;
  operatorOrgId: string | null;
}

/**
 * Which release each device is proved to run: the firmware of its last AFFIRMING result (never
 * the version a failed appraisal claimed). The commit of an affirming result writes the device's
 * `firmware_version` and `affirmed_at` (fleet's deviceAttestationUpdate, in the statement that
 * stores the result) and leaves them alone otherwise, so they are that release; read here from
 * fleet's device_directory view. Read by the lifecycle (exposure) through its port.
 */
@Injectable()
export class AttestedReleaseReader {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async attestedRelease(deviceId: string): Promise<AttestedReleaseRow | null> {
    return (await this.attestedReleases([deviceId]))[0] ?? null;
  }

  async attestedReleases(deviceIds: readonly string[]): Promise<AttestedReleaseRow[]> {
    if (!deviceIds.length) return [];
    const rows = await this.ds.query(
      `SELECT id, product_id, firmware_version, manufacturer_org_id, operator_org_id FROM device_directory
       WHERE id = ANY($1::varchar[]) AND status = 'active' AND affirmed_at IS NOT NULL AND firmware_version IS NOT NULL`,
      [deviceIds],
    );
    return rows.map(toRow);
  }

  async devicesAttestedOn(releases: Array<{ productId: string; version: string }>): Promise<AttestedReleaseRow[]> {
    if (!releases.length) return [];
    const rows = await this.ds.query(
      `SELECT d.id, d.product_id, d.firmware_version, d.manufacturer_org_id, d.operator_org_id
       FROM device_directory d JOIN unnest($1::uuid[], $2::varchar[]) AS r(product_id, version) ON d.product_id = r.product_id AND d.firmware_version = r.version
       WHERE d.status = 'active' AND d.affirmed_at IS NOT NULL`,
      [releases.map((r) => r.productId), releases.map((r) => r.version)],
    );
    return rows.map(toRow);
  }
}

function toRow(r: { id: string; product_id: string; firmware_version: string; manufacturer_org_id: string; operator_org_id: string | null }): AttestedReleaseRow {
  return { deviceId: r.id, productId: r.product_id, version: r.firmware_version, manufacturerOrgId: r.manufacturer_org_id, operatorOrgId: r.operator_org_id };
}
