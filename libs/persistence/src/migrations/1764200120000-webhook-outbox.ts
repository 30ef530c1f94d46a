import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks from a durable outbox (issue 12): one row per (hook, event) in `webhook_deliveries`,
 * claimed by a delivery worker with a lease, retried with backoff until a horizon, then dead.
 * Webhook secrets at rest sealed (issue 11): `secret_sealed` holds AES-256-GCM ciphertext; the
 * clear `secret` column becomes nullable and is emptied at the next boot, when the service has
 * the key (a migration has no key material).
 */
export class WebhookOutbox1764200120000 implements MigrationInterface {
  name = 'WebhookOutbox1764200120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks ADD COLUMN secret_sealed varchar(600), ALTER COLUMN secret DROP NOT NULL`);
    await q.query(`ALTER TABLE webhooks ADD CONSTRAINT webhooks_secret_present CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL)`);
    await q.query(`CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY,
      webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event_id uuid NOT NULL,
      event_type varchar(40) NOT NULL,
      receiver varchar(2100) NOT NULL,
      payload text NOT NULL,
      status varchar(10) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      lease_owner varchar(64),
      lease_until timestamptz,
      last_error varchar(500),
      last_status integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      UNIQUE (webhook_id, event_id)
    )`);
    await q.query(`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at DESC)`);
    await q.query(`CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`ALTER TABLE webhooks DROP CONSTRAINT webhooks_secret_present`);
    await q.query(`ALTER TABLE webhooks DROP COLUMN secret_sealed`);
  }
}
