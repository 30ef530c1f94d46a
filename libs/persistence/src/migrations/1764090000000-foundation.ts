import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenants, API keys, the hash-chained audit log and products. */
export class Foundation1764090000000 implements MigrationInterface {
  name = 'Foundation1764090000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE organizations (
      id uuid PRIMARY KEY,
      name varchar(200) NOT NULL UNIQUE,
      kind varchar(20) NOT NULL CHECK (kind IN ('system', 'manufacturer', 'operator')),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE api_keys (
      id varchar(40) PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      roles text[] NOT NULL,
      secret_hash char(64) NOT NULL,
      label varchar(200),
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    )`);
    await q.query(`CREATE INDEX api_keys_org ON api_keys(organization_id)`);
    await q.query(`CREATE TABLE audit_log (
      seq bigint PRIMARY KEY,
      at timestamptz NOT NULL,
      actor varchar(200) NOT NULL,
      organization_id uuid,
      action varchar(200) NOT NULL,
      resource varchar(500),
      outcome varchar(40) NOT NULL,
      details jsonb NOT NULL DEFAULT '{}'::jsonb,
      prev_hash char(64) NOT NULL,
      hash char(64) NOT NULL
    )`);
    await q.query(`CREATE TABLE products (
      id uuid PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      name varchar(200) NOT NULL,
      component_type varchar(3) NOT NULL CHECK (component_type IN ('EDR', 'HDR', 'NDR', 'SAR')),
      declared_requirements jsonb NOT NULL DEFAULT '[]'::jsonb,
      target_levels jsonb NOT NULL,
      min_security_counter integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (organization_id, name)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE products');
    await q.query('DROP TABLE audit_log');
    await q.query('DROP TABLE api_keys');
    await q.query('DROP TABLE organizations');
  }
}
