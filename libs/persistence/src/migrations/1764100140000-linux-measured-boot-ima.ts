import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Linux devices (owned by the attestation lib): golden measured-boot states recorded from
 * known-good TCG logs, per release; measured-boot and runtime (IMA) policies, per product; and
 * per device the running IMA state (entries appraised, PCR 10 so far) for incremental appraisal.
 */
export class LinuxMeasuredBootIma1764100140000 implements MigrationInterface {
  name = 'LinuxMeasuredBootIma1764100140000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE measured_boot_golden_states (
      product_id uuid NOT NULL REFERENCES products(id),
      version varchar(64) NOT NULL,
      log_sha256 char(64) NOT NULL,
      golden jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, version)
    )`);
    await q.query(`CREATE TABLE measured_boot_policies (
      product_id uuid PRIMARY KEY REFERENCES products(id),
      source varchar(16) NOT NULL,
      policy jsonb NOT NULL,
      document jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE runtime_policies (
      product_id uuid PRIMARY KEY REFERENCES products(id),
      policy jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE ima_device_states (
      device_id varchar(64) PRIMARY KEY,
      boot_log_sha256 char(64) NOT NULL,
      entries integer NOT NULL,
      pcr10 jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE ima_device_states');
    await q.query('DROP TABLE runtime_policies');
    await q.query('DROP TABLE measured_boot_policies');
    await q.query('DROP TABLE measured_boot_golden_states');
  }
}
