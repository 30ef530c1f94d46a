import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Evidence-graded scoring, zones and assessments (issue 16):
 * - device_scores records what each score was computed from (report, attestation result, release,
 *   rule-set and catalog versions);
 * - product_applicability: a product's statement of applicability (manufacturer);
 * - device_observations: what the service saw itself (negotiated TLS, mutual TLS, TPM quotes,
 *   attested releases), owned by the hardening lib;
 * - zones, zone_devices, zone_countermeasures (operator; IEC 62443-3-2 zones).
 */
export class EvidenceZonesAssessments1764100160000 implements MigrationInterface {
  name = 'EvidenceZonesAssessments1764100160000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE device_scores
      ADD COLUMN report_id uuid,
      ADD COLUMN attestation_result_id uuid,
      ADD COLUMN firmware_release varchar(64),
      ADD COLUMN rules_version varchar(40),
      ADD COLUMN catalog_version varchar(40)`);
    await q.query(`CREATE TABLE product_applicability (
      product_id uuid NOT NULL REFERENCES products(id),
      requirement varchar(40) NOT NULL,
      applicable boolean NOT NULL,
      justification varchar(2000) NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, requirement)
    )`);
    await q.query(`CREATE TABLE device_observations (
      device_id varchar(64) PRIMARY KEY REFERENCES devices(id),
      tls_versions jsonb NOT NULL DEFAULT '[]'::jsonb,
      ciphers jsonb NOT NULL DEFAULT '[]'::jsonb,
      mutual_tls_at timestamptz,
      tls_seen_at timestamptz,
      tpm_quote_at timestamptz,
      attested_releases jsonb NOT NULL DEFAULT '[]'::jsonb,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE zones (
      id uuid PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      name varchar(200) NOT NULL,
      target_levels jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (organization_id, name)
    )`);
    await q.query(`CREATE TABLE zone_devices (
      zone_id uuid NOT NULL REFERENCES zones(id),
      device_id varchar(64) NOT NULL REFERENCES devices(id),
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (zone_id, device_id),
      UNIQUE (device_id)
    )`);
    await q.query(`CREATE TABLE zone_countermeasures (
      id uuid PRIMARY KEY,
      zone_id uuid NOT NULL REFERENCES zones(id),
      requirement varchar(40) NOT NULL,
      description varchar(4000) NOT NULL,
      recorded_by varchar(100),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX zone_countermeasures_zone ON zone_countermeasures(zone_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['zone_countermeasures', 'zone_devices', 'zones', 'device_observations', 'product_applicability']) await q.query(`DROP TABLE ${t}`);
    await q.query(`ALTER TABLE device_scores DROP COLUMN report_id, DROP COLUMN attestation_result_id, DROP COLUMN firmware_release, DROP COLUMN rules_version, DROP COLUMN catalog_version`);
  }
}
