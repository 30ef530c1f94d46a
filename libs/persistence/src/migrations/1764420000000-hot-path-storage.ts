import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage settings for the two rows every appraisal writes (issue 17, measured on PostgreSQL 15):
 *
 * - `devices` is updated by every result (its attestation state). At the default fillfactor 100 a
 *   page has no room for the new version, so most updates were not HOT and wrote all five of the
 *   table's indexes again: 5,000 devices updated 20,000 times took 30 us of backend CPU an update,
 *   30 % of them HOT, and the heap grew to 11 MB. At 60: 17 us, 93 % HOT, 6 MB. New pages only;
 *   existing rows move to roomier pages as they are updated (or at the next VACUUM FULL).
 * - `attestation_results` rows (evidence, claims and EAR: about 4 KB) were over the 2 KB toast
 *   threshold, so each insert tried to compress the base64 texts and then moved them into the
 *   TOAST table: 60 us of backend CPU a row, against 34 us kept in the row (no smaller on disk:
 *   4.4 KB a row either way). Rows over 8 KB (Linux evidence with a TCG log) are still toasted.
 */
export class HotPathStorage1764420000000 implements MigrationInterface {
  name = 'HotPathStorage1764420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE devices SET (fillfactor = 60)`);
    await q.query(`ALTER TABLE attestation_results SET (toast_tuple_target = 8160)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE devices RESET (fillfactor)`);
    await q.query(`ALTER TABLE attestation_results RESET (toast_tuple_target)`);
  }
}
