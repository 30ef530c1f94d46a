import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PSA attestation (RFC 9783) and CoRIM reference values. The device columns are written at
 * enrollment (fleet); the three tables belong to the attestation lib.
 */
export class PsaAttestation1764100150000 implements MigrationInterface {
  name = 'PsaAttestation1764100150000';

  async up(q: QueryRunner): Promise<void> {
    // The device's Initial Attestation Key (SPKI PEM) and its PSA identities (hex), from enrollment.
    await q.query(`ALTER TABLE devices ADD COLUMN iak_public_key text, ADD COLUMN psa_instance_id varchar(66), ADD COLUMN psa_implementation_id varchar(64)`);
    await q.query(`CREATE TABLE corim_imports (
      id uuid PRIMARY KEY,
      product_id uuid NOT NULL REFERENCES products(id),
      corim_id varchar(200) NOT NULL,
      profile varchar(200) NOT NULL,
      signed boolean NOT NULL,
      sha256 char(64) NOT NULL,
      reference_values integer NOT NULL,
      attest_keys integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (product_id, sha256)
    )`);
    await q.query(`CREATE TABLE psa_reference_values (
      id uuid PRIMARY KEY,
      import_id uuid NOT NULL REFERENCES corim_imports(id),
      product_id uuid NOT NULL REFERENCES products(id),
      implementation_id varchar(64) NOT NULL,
      measurement_type varchar(256),
      version varchar(256),
      signer_ids jsonb NOT NULL,
      digest_alg integer NOT NULL,
      measurement_value varchar(128) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX psa_reference_values_product ON psa_reference_values (product_id, implementation_id)`);
    await q.query(`CREATE TABLE psa_attest_keys (
      id uuid PRIMARY KEY,
      import_id uuid NOT NULL REFERENCES corim_imports(id),
      product_id uuid NOT NULL REFERENCES products(id),
      implementation_id varchar(64) NOT NULL,
      instance_id varchar(66) NOT NULL,
      public_key_pem text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (product_id, implementation_id, instance_id)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['psa_attest_keys', 'psa_reference_values', 'corim_imports']) await q.query(`DROP TABLE ${t}`);
    await q.query(`ALTER TABLE devices DROP COLUMN iak_public_key, DROP COLUMN psa_instance_id, DROP COLUMN psa_implementation_id`);
  }
}
