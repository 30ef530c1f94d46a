import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { RevocationReason } from '../core/revocation-reason.codec';
import type { IssuedDeviceCertificate } from './ca.service';

/**
 * pki's part of another lib's statement that records certificates it just had issued (fleet's
 * grouped enrollment statement): the INSERT, as a CTE of that statement, so the devices and their
 * certificates commit in one statement. `relation` names a relation of the enclosing statement with
 * the columns serial (varchar), device_id (varchar), pem (text), not_before and not_after
 * (timestamptz) and ca_generation (integer); each of its rows becomes a valid certificate.
 */
export function issuedCertificatesInsert(relation: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(relation)) throw new Error(`issuedCertificatesInsert: ${relation} is not a relation name`);
  return `INSERT INTO certificates (serial, device_id, pem, not_before, not_after, status, issued_at, ca_generation)
    SELECT c.serial, c.device_id, c.pem, c.not_before, c.not_after, 'valid', now(), c.ca_generation FROM ${relation} c`;
}

/**
 * The certificates table's writes that other libs' transactions include. Queries only: the caller
 * decides (and audits) an issuance or a revocation; this records it in the caller's transaction,
 * so it commits with the caller's own writes or not at all.
 */
@Injectable()
export class CertificateRepository {
  /** Revokes every certificate of a device not revoked yet (valid or superseded); returns what it revoked. */
  async revokeOfDevice(m: EntityManager, deviceId: string, at: Date, reason: RevocationReason): Promise<Array<{ serial: string; notAfter: Date }>> {
    const rows = returningRows<{ serial: string; not_after: Date }>(
      await m.query(
        `UPDATE certificates SET status = 'revoked', revoked_at = $2, revocation_reason = $3 WHERE device_id = $1 AND status IN ('valid', 'superseded') RETURNING serial, not_after`,
        [deviceId, at, reason],
      ),
    );
    return rows.map((r) => ({ serial: r.serial, notAfter: new Date(r.not_after) }));
  }

  /** Records one certificate just issued to a device (issuedCertificatesInsert for one row). */
  async storeIssued(m: EntityManager, deviceId: string, c: IssuedDeviceCertificate): Promise<void> {
    await m.query(
      `WITH issued AS (
         SELECT $1::varchar AS serial, $2::varchar AS device_id, $3::text AS pem, $4::timestamptz AS not_before, $5::timestamptz AS not_after, $6::integer AS ca_generation)
       ${issuedCertificatesInsert('issued')}`,
      [c.serialHex, deviceId, c.certificatePem, c.notBefore, c.notAfter, c.caGeneration],
    );
  }

  /** A renewal's previous certificate: superseded (if still valid), so it renews no more. */
  async supersede(m: EntityManager, serial: string): Promise<void> {
    await m.query(`UPDATE certificates SET status = 'superseded' WHERE serial = $1 AND status = 'valid'`, [serial]);
  }
}
