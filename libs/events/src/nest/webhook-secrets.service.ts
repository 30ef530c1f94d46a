import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { SecretBox } from '../core/secret-box';

/**
 * Webhook secrets at rest (issue 11): sealed with AES-256-GCM under a key derived (scrypt) from
 * FLEETGUARD_WEBHOOK_SECRET_KEY, else from FLEETGUARD_CA_PASSPHRASE, else (development, or a CA in
 * a PKCS#11 token without a passphrase) from a random key kept beside the CA (`webhook-secret-key`,
 * 0600). At boot, rows written before sealing existed (clear `secret`) are sealed and the clear
 * column emptied.
 */
@Injectable()
export class WebhookSecretsService implements OnModuleInit {
  private readonly logger = new Logger('Webhooks');
  private box!: SecretBox;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.box = SecretBox.fromPassphrase(this.keyMaterial());
    const clear: Array<{ id: string; secret: string }> = await this.ds.query('SELECT id, secret FROM webhooks WHERE secret IS NOT NULL');
    for (const row of clear) await this.sealRow(row.id, row.secret);
    if (clear.length) this.logger.log(`sealed ${clear.length} webhook secret(s) stored in clear by an earlier version`);
  }

  seal(secret: string, webhookId: string): string {
    return this.box.seal(secret, webhookId);
  }

  /** The secret of a hook row: opened from `secret_sealed`, or a clear one (sealed on the way). */
  async reveal(row: { id: string; secret: string | null; secret_sealed: string | null }): Promise<string> {
    if (row.secret !== null) {
      await this.sealRow(row.id, row.secret);
      return row.secret;
    }
    if (row.secret_sealed === null) throw new Error('the hook has no secret');
    return this.box.open(row.secret_sealed, row.id);
  }

  private async sealRow(id: string, secret: string): Promise<void> {
    await this.ds.query('UPDATE webhooks SET secret_sealed = $2, secret = NULL WHERE id = $1 AND secret = $3', [id, this.box.seal(secret, id), secret]);
  }

  private keyMaterial(): string {
    if (this.config.webhookSecretKey) return this.config.webhookSecretKey;
    if (this.config.caPassphrase) return this.config.caPassphrase;
    const file = path.join(this.config.certsDir, 'webhook-secret-key');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(this.config.certsDir, { recursive: true });
      fs.writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
      this.logger.warn(`no FLEETGUARD_WEBHOOK_SECRET_KEY nor FLEETGUARD_CA_PASSPHRASE: webhook secrets are sealed under the random key in ${file}`);
    }
    return fs.readFileSync(file, 'utf8').trim();
  }
}
