import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Room on each page for the update every appraisal makes to two more of its rows (issue 17,
 * measured on PostgreSQL 15 with statements shaped as the service's, batches of 20, one backend,
 * the machine otherwise quiet; docs/scale.md, 2026-12-07):
 *
 * - `nonces`: a challenge inserts its row and the result's commit sets `used_at` on it a few
 *   hundred rows later. At fillfactor 100 the row's page is full by then, so about half the updates
 *   were not HOT: a new heap tuple elsewhere and new entries in both indexes (the varchar primary
 *   key's comparisons were the largest item in a perf profile of the backends). At 60 every
 *   update was HOT: 0.53-0.57 -> 0.39 ms per batch of 20 updates, the inserts 0.50 -> 0.44-0.46
 *   ms (smaller indexes: 7.7 -> 5.7 MB for 60,000 rows; the heap 10.5 -> 11.7 MB).
 * - `device_observations`: a result with a TPM quote (its time) or a release not yet listed
 *   rewrites its device's row, and so does each TLS observation: 0.30-0.37 -> 0.25-0.32 ms per
 *   batch of 20 such upserts.
 *
 * As with `devices` (hot-path-storage), the setting applies to new pages; existing rows move to
 * roomier pages as they are updated or at the next VACUUM FULL.
 */
export class HotNonceObservationUpdates1764460000000 implements MigrationInterface {
  name = 'HotNonceObservationUpdates1764460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nonces SET (fillfactor = 60)`);
    await q.query(`ALTER TABLE device_observations SET (fillfactor = 60)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nonces RESET (fillfactor)`);
    await q.query(`ALTER TABLE device_observations RESET (fillfactor)`);
  }
}
