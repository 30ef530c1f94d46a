import type { EntityManager } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';

/**
 * The attestation state kept on fleet's device rows (attestation_status, attestation_at,
 * last_seen_at, affirmed_at, firmware_version, firmware_security_counter,
 * max_security_counter_seen), written when attestation commits a result. Fleet owns the
 * statement's text; attestation puts it in its commit statement as a CTE, so the inbox mark, the
 * nonce use, the result and the device's state commit in one statement (as deviceLevelsUpdate
 * does for hardening's levels).
 *
 * `relation` names a relation of the enclosing statement with the columns device_id (varchar),
 * status (varchar), received_at (timestamptz: the receipt of the evidence behind the result),
 * affirming (boolean), fw_version (varchar) and fw_counter (integer: the firmware of an affirming
 * result); `carry`, columns of that relation to return with each row written (the relation is
 * aliased `a`). Returns, per device written, the carried columns, manufacturer_org_id,
 * operator_org_id and `current` (the result became the device's state).
 *
 * The rules: `attestation_at` is the receipt time of the evidence behind the current state; a
 * result for earlier evidence leaves the state alone. Every SET expression reads the row as it
 * was (SQL semantics), so "fresher" is judged once, against the latest committed state (the row
 * lock makes a concurrent commit re-read it). The anti-rollback high-water mark only ever grows,
 * so it takes every affirming result.
 */
export function deviceAttestationUpdate(relation: string, carry: readonly string[] = []): string {
  for (const name of [relation, ...carry]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`deviceAttestationUpdate: ${name} is not a relation or column name`);
  }
  const fresher = '(d.attestation_at IS NULL OR d.attestation_at <= a.received_at)';
  return `UPDATE devices d SET
           attestation_status = CASE WHEN ${fresher} THEN a.status ELSE d.attestation_status END,
           attestation_at = CASE WHEN ${fresher} THEN a.received_at ELSE d.attestation_at END,
           last_seen_at = GREATEST(COALESCE(d.last_seen_at, a.received_at), a.received_at),
           affirmed_at = CASE WHEN ${fresher} AND a.affirming THEN a.received_at ELSE d.affirmed_at END,
           firmware_version = CASE WHEN ${fresher} AND a.affirming THEN a.fw_version ELSE d.firmware_version END,
           firmware_security_counter = CASE WHEN ${fresher} AND a.affirming THEN a.fw_counter ELSE d.firmware_security_counter END,
           max_security_counter_seen = CASE WHEN a.affirming THEN GREATEST(COALESCE(d.max_security_counter_seen, 0), a.fw_counter) ELSE d.max_security_counter_seen END
         FROM ${relation} a WHERE d.id = a.device_id
         RETURNING ${carry.map((c) => `a.${c}, `).join('')}d.manufacturer_org_id, d.operator_org_id, d.attestation_at = a.received_at AS current`;
}

/** One result's device state, for deviceAttestationUpdate. */
export interface DeviceAttestationState {
  deviceId: string;
  status: string;
  receivedAt: Date;
  affirming: boolean;
  /** The firmware of an affirming result (becomes the device's current firmware). */
  firmware: { version: string; securityCounter: number } | null;
}

/**
 * deviceAttestationUpdate for one result, in the caller's transaction `m` (a commit that writes
 * more of its own state with the result). Null audience: no such device.
 */
export async function writeDeviceAttestation(m: EntityManager, s: DeviceAttestationState): Promise<{ audience: Array<string | null> | null; current: boolean }> {
  const raw = await m.query(
    `WITH attestation AS (
       SELECT $1::varchar AS device_id, $2::varchar AS status, $3::timestamptz AS received_at, $4::boolean AS affirming, $5::varchar AS fw_version, $6::integer AS fw_counter)
     ${deviceAttestationUpdate('attestation')}`,
    [s.deviceId, s.status, s.receivedAt, s.affirming, s.firmware?.version ?? null, s.firmware?.securityCounter ?? null],
  );
  const row = returningRows<{ manufacturer_org_id: string; operator_org_id: string | null; current: unknown }>(raw)[0];
  if (!row) return { audience: null, current: false };
  return { audience: [row.manufacturer_org_id, row.operator_org_id], current: row.current === true || row.current === 't' };
}
