import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 18's CA rollover and forced re-key: which issuing CA (generation, 1 = the first) signed
 * each certificate; one CRL per issuing CA (crl_state keyed by generation, the old row is
 * generation 1); the devices an operator marked for re-key (a new key required at renewal).
 */
export class CaRolloverRekey1764200180000 implements MigrationInterface {
  name = 'CaRolloverRekey1764200180000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE certificates ADD COLUMN ca_generation integer NOT NULL DEFAULT 1');
    await q.query(`CREATE INDEX certificates_revoked_by_ca ON certificates (ca_generation) WHERE status = 'revoked'`);
    await q.query('ALTER TABLE crl_state DROP CONSTRAINT crl_state_id_check');
    await q.query('ALTER TABLE crl_state ADD CONSTRAINT crl_state_generation_check CHECK (id >= 1)');
    await q.query('ALTER TABLE devices ADD COLUMN rekey_requested_at timestamptz');
    await q.query('ALTER TABLE devices ADD COLUMN rekey_reason varchar(200)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE devices DROP COLUMN rekey_reason');
    await q.query('ALTER TABLE devices DROP COLUMN rekey_requested_at');
    await q.query('DELETE FROM crl_state WHERE id <> 1');
    await q.query('ALTER TABLE crl_state DROP CONSTRAINT crl_state_generation_check');
    await q.query('ALTER TABLE crl_state ADD CONSTRAINT crl_state_id_check CHECK (id = 1)');
    await q.query('DROP INDEX certificates_revoked_by_ca');
    await q.query('ALTER TABLE certificates DROP COLUMN ca_generation');
  }
}
