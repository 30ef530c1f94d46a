import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operator consent for device assignment (security review, finding 5): an operator's enrollment
 * grant lets one manufacturer (for one product, or any of its products) put up to `max_devices`
 * devices into the operator's fleet until `expires_at`. Tokens that name an operator carry the
 * grant; each enrollment spends one device of it. Unused tokens minted before this version named
 * an operator without its consent: they keep working but enroll their device with no operator.
 */
export class EnrollmentGrants1764200110000 implements MigrationInterface {
  name = 'EnrollmentGrants1764200110000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE enrollment_grants (
      id uuid PRIMARY KEY,
      operator_org_id uuid NOT NULL REFERENCES organizations(id),
      manufacturer_org_id uuid NOT NULL REFERENCES organizations(id),
      product_id uuid REFERENCES products(id),
      max_devices integer NOT NULL CHECK (max_devices > 0),
      used_devices integer NOT NULL DEFAULT 0 CHECK (used_devices >= 0 AND used_devices <= max_devices),
      expires_at timestamptz NOT NULL,
      withdrawn_at timestamptz,
      created_by varchar(64),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX enrollment_grants_operator ON enrollment_grants(operator_org_id)');
    await q.query('CREATE INDEX enrollment_grants_manufacturer ON enrollment_grants(manufacturer_org_id)');
    await q.query('ALTER TABLE enrollment_tokens ADD COLUMN grant_id uuid REFERENCES enrollment_grants(id)');
    await q.query('UPDATE enrollment_tokens SET operator_org_id = NULL WHERE used_at IS NULL AND grant_id IS NULL AND operator_org_id IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE enrollment_tokens DROP COLUMN grant_id');
    await q.query('DROP TABLE enrollment_grants');
  }
}
