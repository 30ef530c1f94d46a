import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Several instances on one database (issue 17): the fleet's one CA (pki owns `ca_material`: the
 * certificates and the passphrase-encrypted keys, so a second instance adopts them instead of
 * making its own) and its one EAR verifier key (attestation owns `verifier_keys`), and the
 * window of the staleness sweep (attestation owns `attestation_sweeps`: the instance holding its
 * row lock sweeps, from where the last sweep of any instance ended).
 */
export class FleetCoordination1764200170000 implements MigrationInterface {
  name = 'FleetCoordination1764200170000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ca_material (
      id integer PRIMARY KEY CHECK (id = 1),
      root_cert_pem text NOT NULL,
      intermediate_cert_pem text NOT NULL,
      root_key_pem text NOT NULL,
      intermediate_key_pem text NOT NULL,
      stored_at timestamptz NOT NULL DEFAULT now(),
      stored_by varchar(200) NOT NULL)`);
    await q.query(`CREATE TABLE verifier_keys (
      id integer PRIMARY KEY CHECK (id = 1),
      key_pem text NOT NULL,
      stored_at timestamptz NOT NULL DEFAULT now(),
      stored_by varchar(200) NOT NULL)`);
    await q.query(`CREATE TABLE attestation_sweeps (name varchar(40) PRIMARY KEY, swept_until timestamptz NOT NULL)`);
    await q.query(`INSERT INTO attestation_sweeps (name, swept_until) VALUES ('stale', now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attestation_sweeps`);
    await q.query(`DROP TABLE verifier_keys`);
    await q.query(`DROP TABLE ca_material`);
  }
}
