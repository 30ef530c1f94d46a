import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 17: the issuing CAs a rollover makes (generation 2 on) are the fleet's, like the first
 * one in `ca_material`: every instance on the database issues from the newest and validates with
 * all of them. pki owns the table. The key is encrypted with the fleet's passphrase, or null when
 * the CA keys are in a PKCS#11 token (the key is the token's `<label>-<generation>`).
 */
export class CaGenerations1764440000000 implements MigrationInterface {
  name = 'CaGenerations1764440000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ca_generations (
      generation integer PRIMARY KEY CHECK (generation >= 2),
      intermediate_cert_pem text NOT NULL,
      intermediate_key_pem text,
      created_at timestamptz NOT NULL DEFAULT now(),
      created_by varchar(200) NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE ca_generations');
  }
}
