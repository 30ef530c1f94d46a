import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { SlVector } from '@fleetguard/hardening';
import type { Countermeasure } from '../core';

export interface ZoneRow {
  id: string;
  organizationId: string;
  name: string;
  targetLevels: SlVector;
  createdAt: Date;
  devices: number;
}

/** The zone tables' queries (zones, zone_devices, zone_countermeasures), scoped by organization; devices are read from fleet's device_directory view. */
export class ZonesRepository {
  constructor(private readonly ds: DataSource) {}

  /** Null when the organization already has a zone of that name. */
  async create(organizationId: string, name: string, targetLevels: SlVector): Promise<ZoneRow | null> {
    const id = randomUUID();
    const rows = returningRows<{ created_at: Date }>(
      await this.ds.query(
        `INSERT INTO zones (id, organization_id, name, target_levels) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (organization_id, name) DO NOTHING RETURNING created_at`,
        [id, organizationId, name, JSON.stringify(targetLevels)],
      ),
    );
    return rows.length ? { id, organizationId, name, targetLevels, createdAt: rows[0].created_at, devices: 0 } : null;
  }

  /** Replaces the zone's SL-T (the asset owner's target). */
  async setTargetLevels(zoneId: string, targetLevels: SlVector): Promise<void> {
    await this.ds.query(`UPDATE zones SET target_levels = $2::jsonb WHERE id = $1::uuid`, [zoneId, JSON.stringify(targetLevels)]);
  }

  async list(organizationId: string): Promise<ZoneRow[]> {
    return this.read(`z.organization_id = $1`, [organizationId]);
  }

  /** The zone if it belongs to the organization, else null. */
  async get(organizationId: string, id: string): Promise<ZoneRow | null> {
    return (await this.read(`z.organization_id = $1 AND z.id = $2::uuid`, [organizationId, id]))[0] ?? null;
  }

  private async read(where: string, params: unknown[]): Promise<ZoneRow[]> {
    const rows = returningRows<{ id: string; organization_id: string; name: string; target_levels: SlVector; created_at: Date; devices: number }>(
      await this.ds.query(
        `SELECT z.id, z.organization_id, z.name, z.target_levels, z.created_at,
                (SELECT count(*)::int FROM zone_devices zd WHERE zd.zone_id = z.id) AS devices
         FROM zones z WHERE ${where} ORDER BY z.name`,
        params,
      ),
    );
    return rows.map((r) => ({ id: r.id, organizationId: r.organization_id, name: r.name, targetLevels: r.target_levels, createdAt: r.created_at, devices: r.devices }));
  }

  /** Of `ids`, those that are not active devices assigned to the organization (as operator). */
  async foreignDevices(organizationId: string, ids: readonly string[]): Promise<string[]> {
    if (!ids.length) return [];
    const rows = returningRows<{ id: string }>(
      await this.ds.query(`SELECT id FROM device_directory WHERE id = ANY($1::varchar[]) AND operator_org_id = $2 AND status = 'active'`, [ids, organizationId]),
    );
    const mine = new Set(rows.map((r) => r.id));
    return ids.filter((id) => !mine.has(id));
  }

  /** Of `ids`, those already in another zone. */
  async inOtherZones(zoneId: string, ids: readonly string[]): Promise<Array<{ deviceId: string; zoneId: string }>> {
    if (!ids.length) return [];
    const rows = returningRows<{ device_id: string; zone_id: string }>(
      await this.ds.query(`SELECT device_id, zone_id FROM zone_devices WHERE device_id = ANY($1::varchar[]) AND zone_id <> $2::uuid`, [ids, zoneId]),
    );
    return rows.map((r) => ({ deviceId: r.device_id, zoneId: r.zone_id }));
  }

  /** Adds and removes in one statement; a device already in the zone stays (no duplicate). */
  async changeDevices(zoneId: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    await this.ds.query(
      `WITH gone AS (DELETE FROM zone_devices WHERE zone_id = $1::uuid AND device_id = ANY($3::varchar[]))
       INSERT INTO zone_devices (zone_id, device_id) SELECT $1::uuid, x FROM unnest($2::varchar[]) AS x
       ON CONFLICT (zone_id, device_id) DO NOTHING`,
      [zoneId, add, remove],
    );
  }

  /** The zone's device ids in id order, from `after` (exclusive), at most `limit`. */
  async deviceIds(zoneId: string, after: string | null, limit: number): Promise<string[]> {
    const rows = returningRows<{ device_id: string }>(
      await this.ds.query(
        `SELECT device_id FROM zone_devices WHERE zone_id = $1::uuid AND ($2::varchar IS NULL OR device_id > $2::varchar) ORDER BY device_id LIMIT $3`,
        [zoneId, after, limit],
      ),
    );
    return rows.map((r) => r.device_id);
  }

  async addCountermeasure(zoneId: string, requirement: string, description: string, recordedBy: string): Promise<Countermeasure> {
    const id = randomUUID();
    const rows = returningRows<{ created_at: Date }>(
      await this.ds.query(
        `INSERT INTO zone_countermeasures (id, zone_id, requirement, description, recorded_by) VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
        [id, zoneId, requirement, description, recordedBy],
      ),
    );
    return { id, requirement, description, recordedAt: rows[0].created_at.toISOString() };
  }

  async countermeasures(zoneId: string): Promise<Countermeasure[]> {
    const rows = returningRows<{ id: string; requirement: string; description: string; created_at: Date }>(
      await this.ds.query(`SELECT id, requirement, description, created_at FROM zone_countermeasures WHERE zone_id = $1::uuid ORDER BY created_at, id`, [zoneId]),
    );
    return rows.map((r) => ({ id: r.id, requirement: r.requirement, description: r.description, recordedAt: r.created_at.toISOString() }));
  }
}
