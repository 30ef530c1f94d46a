import { MigrationInterface, QueryRunner } from 'typeorm';

/** Devices of the fleet, their certificates, enrollment tokens and the CRL state. */
export class DevicesAndPki1764090100000 implements MigrationInterface {
  name = 'DevicesAndPki1764090100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE enrollment_tokens (
      id uuid PRIMARY KEY,
      token_hash char(64) NOT NULL UNIQUE,
      product_id uuid NOT NULL REFERENCES products(id),
      operator_org_id uuid REFERENCES organizations(id),
      created_by varchar(40),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      device_id varchar(64),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX enrollment_tokens_product ON enrollment_tokens(product_id)`);
    await q.query(`CREATE TABLE devices (
      id varchar(64) PRIMARY KEY,
      product_id uuid NOT NULL REFERENCES products(id),
      manufacturer_org_id uuid NOT NULL REFERENCES organizations(id),
      operator_org_id uuid REFERENCES organizations(id),
      status varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      key_type varchar(10) NOT NULL,
      public_key_spki bytea NOT NULL,
      ak_public_key text,
      cert_serial varchar(40),
      cert_not_after timestamptz,
      firmware_version varchar(64),
      firmware_security_counter integer,
      max_security_counter_seen integer,
      attestation_status varchar(20),
      attestation_at timestamptz,
      affirmed_at timestamptz,
      last_seen_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      seq bigserial NOT NULL UNIQUE
    )`);
    await q.query(`CREATE INDEX devices_product ON devices(product_id)`);
    await q.query(`CREATE INDEX devices_operator ON devices(operator_org_id)`);
    await q.query(`CREATE INDEX devices_manufacturer ON devices(manufacturer_org_id)`);
    await q.query(`CREATE TABLE certificates (
      serial varchar(40) PRIMARY KEY,
      device_id varchar(64) NOT NULL REFERENCES devices(id),
      pem text NOT NULL,
      not_before timestamptz NOT NULL,
      not_after timestamptz NOT NULL,
      status varchar(20) NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked', 'superseded')),
      revoked_at timestamptz,
      revocation_reason varchar(40),
      issued_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX certificates_device ON certificates(device_id)`);
    await q.query(`CREATE INDEX certificates_revoked ON certificates(status) WHERE status = 'revoked'`);
    await q.query(`CREATE TABLE crl_state (
      id integer PRIMARY KEY CHECK (id = 1),
      crl_number bigint NOT NULL,
      this_update timestamptz NOT NULL,
      next_update timestamptz NOT NULL,
      der bytea NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE crl_state');
    await q.query('DROP TABLE certificates');
    await q.query('DROP TABLE devices');
    await q.query('DROP TABLE enrollment_tokens');
  }
}
