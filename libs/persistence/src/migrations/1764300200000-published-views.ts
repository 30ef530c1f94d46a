import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10's read views: each owner lib publishes the columns other libs may read from its table
 * as a plain view (a projection, no joins, no aggregates, so PostgreSQL inlines it into the
 * reader's statement and the reader's single-statement joins keep their plans and indexes).
 * Only the owner writes the table; readers name the view (test/architecture checks both, and
 * docs/architecture.md says who owns which view). A later migration that drops or retypes a
 * column one of these shows must recreate the view (PostgreSQL refuses otherwise).
 */
export class PublishedViews1764300200000 implements MigrationInterface {
  name = 'PublishedViews1764300200000';

  async up(q: QueryRunner): Promise<void> {
    // fleet: the device directory (identity, tenancy, status, and the state other libs keep on the row).
    await q.query(`CREATE VIEW device_directory AS
      SELECT id, seq, product_id, manufacturer_org_id, operator_org_id, status, cert_serial, cert_not_after,
             firmware_version, attestation_status, attestation_at, affirmed_at, sl_evidenced, sl_declared, below_target
      FROM devices`);
    // fleet: the product directory.
    await q.query(`CREATE VIEW product_directory AS
      SELECT id, organization_id, name, component_type, declared_requirements, target_levels FROM products`);
    // pki: which certificates a device holds, and in which state (no PEM, no revocation details).
    await q.query(`CREATE VIEW certificate_directory AS
      SELECT serial, device_id, status, not_after FROM certificates`);
    // attestation: the results' outcome per device (no evidence, claims or EAR; whether a TPM quote was verified).
    await q.query(`CREATE VIEW attestation_result_directory AS
      SELECT id, device_id, status, firmware_version, COALESCE(claims ? 'tpm', false) AS tpm_quoted, created_at FROM attestation_results`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP VIEW attestation_result_directory');
    await q.query('DROP VIEW certificate_directory');
    await q.query('DROP VIEW product_directory');
    await q.query('DROP VIEW device_directory');
  }
}
