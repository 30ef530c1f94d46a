import { MigrationInterface, QueryRunner } from 'typeorm';

/** The 62443-4-1 lifecycle (libs/lifecycle owns these tables): SBOMs, advisories, VEX, exposure, lifecycle dates. */
export class Lifecycle1764100190000 implements MigrationInterface {
  name = 'Lifecycle1764100190000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE release_sboms (
      product_id uuid NOT NULL REFERENCES products(id),
      version varchar(64) NOT NULL,
      format varchar(20) NOT NULL,
      spec_version varchar(10) NOT NULL,
      sha256 char(64) NOT NULL,
      components jsonb NOT NULL,
      component_count integer NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, version)
    )`);
    await q.query(`CREATE TABLE advisories (
      id uuid PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      tracking_id varchar(200) NOT NULL,
      tracking_version varchar(50) NOT NULL,
      title varchar(1000) NOT NULL,
      category varchar(100) NOT NULL,
      publisher varchar(500) NOT NULL,
      products jsonb NOT NULL,
      statements jsonb NOT NULL,
      vulnerabilities jsonb NOT NULL,
      max_cvss numeric(3,1),
      document jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (organization_id, tracking_id)
    )`);
    await q.query(`CREATE TABLE vex_statements (
      id uuid PRIMARY KEY,
      seq bigserial NOT NULL,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      format varchar(20) NOT NULL,
      vulnerability varchar(200) NOT NULL,
      status varchar(30) NOT NULL CHECK (status IN ('not_affected', 'affected', 'fixed', 'under_investigation')),
      justification varchar(1000),
      impact_statement text,
      products jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (status <> 'not_affected' OR justification IS NOT NULL OR impact_statement IS NOT NULL)
    )`);
    await q.query(`CREATE INDEX vex_statements_vulnerability ON vex_statements(organization_id, vulnerability, seq)`);
    await q.query(`CREATE TABLE release_findings (
      advisory_id uuid NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
      product_id uuid NOT NULL REFERENCES products(id),
      version varchar(64) NOT NULL,
      findings jsonb NOT NULL,
      max_cvss numeric(3,1),
      PRIMARY KEY (advisory_id, product_id, version)
    )`);
    await q.query(`CREATE INDEX release_findings_release ON release_findings(product_id, version)`);
    // No foreign keys here on purpose: a recompute writes up to a whole fleet's rows in one
    // statement, and two row-level FK triggers per row cost more than the write itself. Devices
    // and advisories are never deleted; the lifecycle writes only ids it has just read.
    await q.query(`CREATE TABLE device_exposures (
      device_id varchar(64) NOT NULL,
      advisory_id uuid NOT NULL,
      product_id uuid NOT NULL,
      version varchar(64) NOT NULL,
      since timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (device_id, advisory_id)
    )`);
    await q.query(`CREATE INDEX device_exposures_advisory ON device_exposures(advisory_id)`);
    await q.query(`CREATE TABLE product_lifecycles (
      product_id uuid PRIMARY KEY REFERENCES products(id),
      general_availability timestamptz,
      end_of_sales timestamptz,
      end_of_security_support timestamptz,
      end_of_life timestamptz,
      unsupported_notified_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['product_lifecycles', 'device_exposures', 'release_findings', 'vex_statements', 'advisories', 'release_sboms']) await q.query(`DROP TABLE ${t}`);
  }
}
