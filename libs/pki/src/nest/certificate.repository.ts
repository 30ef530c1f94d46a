import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { returningRows } from '@fleetguard/persistence';
import type { RevocationReason } from '../core/revocation-reason.codec';

/**
 * The certificates table's writes that other libs' transactions include. Queries only: the caller
 * decides (and audits) a revocation; this records it in the caller's transaction, so it commits
 * with the caller's own writes or not at all.
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
}
