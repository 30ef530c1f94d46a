import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Appraisal exactly once (attestation owns both tables): an inbox row is claimed with a lease
 * (claimed_by, lease_until) and retried with backoff (attempts, next_attempt_at, last_error);
 * a result belongs to at most one inbox row. And one row the readiness probe writes (owned by
 * the fleet-server app's health check), so "ready" means the database takes writes.
 */
export class AppraisalLeases1764200100000 implements MigrationInterface {
  name = 'AppraisalLeases1764200100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation_inbox
      ADD COLUMN claimed_by varchar(64),
      ADD COLUMN lease_until timestamptz,
      ADD COLUMN attempts integer NOT NULL DEFAULT 0,
      ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN last_error varchar(500)`);
    // Results stored twice for one inbox row before this migration (a second instance during a
    // backlog): keep the earliest, so the unique index can be built.
    await q.query(`DELETE FROM attestation_results r USING attestation_results o
      WHERE r.inbox_id IS NOT NULL AND r.inbox_id = o.inbox_id AND (r.created_at, r.id) > (o.created_at, o.id)`);
    await q.query(`CREATE UNIQUE INDEX attestation_results_inbox ON attestation_results(inbox_id) WHERE inbox_id IS NOT NULL`);
    await q.query(`DROP INDEX attestation_inbox_pending`);
    await q.query(`CREATE INDEX attestation_inbox_pending ON attestation_inbox(next_attempt_at, received_at) WHERE processed_at IS NULL`);
    await q.query(`CREATE TABLE health_probe (id integer PRIMARY KEY, written_at timestamptz NOT NULL)`);
    await q.query(`INSERT INTO health_probe (id, written_at) VALUES (1, now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE health_probe`);
    await q.query(`DROP INDEX attestation_inbox_pending`);
    await q.query(`CREATE INDEX attestation_inbox_pending ON attestation_inbox(received_at) WHERE processed_at IS NULL`);
    await q.query(`DROP INDEX attestation_results_inbox`);
    await q.query(`ALTER TABLE attestation_inbox DROP COLUMN claimed_by, DROP COLUMN lease_until, DROP COLUMN attempts, DROP COLUMN next_attempt_at, DROP COLUMN last_error`);
  }
}
