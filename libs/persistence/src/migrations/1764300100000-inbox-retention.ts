import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Processed inbox rows are removed after FLEETGUARD_INBOX_RETENTION_HOURS (the evidence itself
 * stays with its result in attestation_results): the sweep finds the oldest rows by receipt time.
 */
export class InboxRetention1764300100000 implements MigrationInterface {
  name = 'InboxRetention1764300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX attestation_inbox_received ON attestation_inbox (received_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX attestation_inbox_received`);
  }
}
