import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Security review: security counters hold what the formats allow (MCUboot SEC_CNT and manifests
 * carry a uint32; `integer` stopped at 2^31 - 1 with a 500), and free-form API keys are found by
 * the hash of the key (their ids are random, no longer derived from the key).
 */
export class SecurityHardening1764100110000 implements MigrationInterface {
  name = 'SecurityHardening1764100110000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE products ALTER COLUMN min_security_counter TYPE bigint');
    await q.query('ALTER TABLE devices ALTER COLUMN firmware_security_counter TYPE bigint');
    await q.query('ALTER TABLE devices ALTER COLUMN max_security_counter_seen TYPE bigint');
    await q.query('ALTER TABLE firmware_releases ALTER COLUMN security_counter TYPE bigint');
    await q.query('ALTER TABLE attestation_results ALTER COLUMN security_counter TYPE bigint');
    await q.query('CREATE INDEX api_keys_secret_hash ON api_keys(secret_hash)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX api_keys_secret_hash');
    await q.query('ALTER TABLE attestation_results ALTER COLUMN security_counter TYPE integer');
    await q.query('ALTER TABLE firmware_releases ALTER COLUMN security_counter TYPE integer');
    await q.query('ALTER TABLE devices ALTER COLUMN max_security_counter_seen TYPE integer');
    await q.query('ALTER TABLE devices ALTER COLUMN firmware_security_counter TYPE integer');
    await q.query('ALTER TABLE products ALTER COLUMN min_security_counter TYPE integer');
  }
}
