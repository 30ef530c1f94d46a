import { MigrationInterface, QueryRunner } from 'typeorm';

/** Signing keys and releases, nonces, the evidence inbox and results, hardening reports and scores, webhooks. */
export class FirmwareAttestationScoring1764090200000 implements MigrationInterface {
  name = 'FirmwareAttestationScoring1764090200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE signing_keys (
      product_id uuid NOT NULL REFERENCES products(id),
      key_id char(64) NOT NULL,
      algorithm varchar(10) NOT NULL,
      public_key_pem text NOT NULL,
      status varchar(10) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      PRIMARY KEY (product_id, key_id)
    )`);
    await q.query(`CREATE TABLE firmware_releases (
      product_id uuid NOT NULL REFERENCES products(id),
      version varchar(64) NOT NULL,
      format varchar(10) NOT NULL,
      security_counter integer NOT NULL,
      digest varchar(71) NOT NULL,
      size bigint NOT NULL,
      signer_key_id char(64) NOT NULL,
      status varchar(10) NOT NULL DEFAULT 'trusted' CHECK (status IN ('trusted', 'revoked')),
      revoked_reason varchar(200),
      reference_values jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, version)
    )`);
    await q.query(`CREATE TABLE nonces (
      nonce varchar(100) PRIMARY KEY,
      device_id varchar(64) NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX nonces_expiry ON nonces(expires_at)`);
    await q.query(`CREATE TABLE attestation_inbox (
      id uuid PRIMARY KEY,
      device_id varchar(64) NOT NULL,
      evidence_hash char(64) NOT NULL UNIQUE,
      evidence text NOT NULL,
      channel varchar(10) NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      processed_at timestamptz
    )`);
    await q.query(`CREATE INDEX attestation_inbox_pending ON attestation_inbox(received_at) WHERE processed_at IS NULL`);
    await q.query(`CREATE TABLE attestation_results (
      id uuid PRIMARY KEY,
      device_id varchar(64) NOT NULL REFERENCES devices(id),
      inbox_id uuid,
      status varchar(20) NOT NULL,
      trust_vector jsonb NOT NULL,
      reasons jsonb NOT NULL,
      findings jsonb NOT NULL DEFAULT '[]'::jsonb,
      firmware_version varchar(64),
      security_counter integer,
      evidence text NOT NULL,
      claims jsonb,
      ear text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX attestation_results_device ON attestation_results(device_id, created_at DESC)`);
    await q.query(`CREATE TABLE hardening_reports (
      id uuid PRIMARY KEY,
      device_id varchar(64) NOT NULL REFERENCES devices(id),
      report jsonb NOT NULL,
      channel varchar(10) NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX hardening_reports_device ON hardening_reports(device_id, received_at DESC)`);
    await q.query(`CREATE TABLE device_scores (
      id uuid PRIMARY KEY,
      device_id varchar(64) NOT NULL REFERENCES devices(id),
      evidenced jsonb NOT NULL,
      declared jsonb NOT NULL,
      items jsonb NOT NULL,
      below_target boolean NOT NULL,
      cause varchar(40) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX device_scores_device ON device_scores(device_id, created_at DESC)`);
    await q.query(`ALTER TABLE devices ADD COLUMN sl_evidenced jsonb, ADD COLUMN sl_declared jsonb, ADD COLUMN below_target boolean`);
    await q.query(`CREATE TABLE webhooks (
      id uuid PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      url varchar(2000) NOT NULL,
      secret varchar(200) NOT NULL,
      events jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['webhooks', 'device_scores', 'hardening_reports', 'attestation_results', 'attestation_inbox', 'nonces', 'firmware_releases', 'signing_keys']) {
      await q.query(`DROP TABLE ${t}`);
    }
    await q.query(`ALTER TABLE devices DROP COLUMN sl_evidenced, DROP COLUMN sl_declared, DROP COLUMN below_target`);
  }
}
