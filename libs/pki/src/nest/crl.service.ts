import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform';
import { RevocationReason } from '../core/revocation-reason.codec';
import { pemEncode } from '../core/der-input.codec';
import { CaService } from './ca.service';

interface CrlRow {
  crl_number: string;
  this_update: Date;
  next_update: Date;
  der: Buffer;
}

const CRL_LOCK_KEY = 0x43524c31; // 'CRL1'

/**
 * The CRL: regenerated after every revocation and, by a timer, well before nextUpdate (at a
 * quarter of its validity left). Kept in the database so every instance serves the same one:
 * an instance that regenerates it tells the others (cluster bus), and each re-reads the stored
 * one every 30 s anyway (so a lost message delays another instance's copy by 30 s at most).
 * The timer's regeneration is fleet-wide work done once: under the advisory lock, an instance
 * finding that another has just renewed it leaves it.
 */
@Injectable()
export class CrlService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CRL');
  private current?: { der: Buffer; nextUpdate: Date; thisUpdate: Date };
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ca: CaService,
    private readonly cluster: ClusterBus,
  ) {}

  async onModuleInit(): Promise<void> {
    this.cluster.on('crl-updated', () => void this.ensureFresh().catch((e) => this.logger.warn(`CRL re-read failed: ${(e as Error).message}`)));
    await this.ensureFresh();
    this.timer = setInterval(() => void this.ensureFresh().catch((e) => this.logger.error(`CRL refresh failed: ${(e as Error).message}`)), 30_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async der(): Promise<Buffer> {
    if (!this.current || this.current.nextUpdate.getTime() < Date.now()) await this.ensureFresh();
    return this.current!.der;
  }

  async pem(): Promise<string> {
    return pemEncode(await this.der(), 'X509 CRL');
  }

  private async ensureFresh(): Promise<void> {
    const rows: CrlRow[] = await this.ds.query('SELECT crl_number, this_update, next_update, der FROM crl_state WHERE id = 1');
    const row = rows[0];
    const validityMs = this.config.crlValidityHours * 3600_000;
    if (row && new Date(row.next_update).getTime() - Date.now() > validityMs / 4) {
      this.current = { der: Buffer.from(row.der), nextUpdate: new Date(row.next_update), thisUpdate: new Date(row.this_update) };
      return;
    }
    await this.regenerate({ onlyIfDue: true });
  }

  /**
   * Builds and stores a new CRL from every revoked certificate. Called after each revocation;
   * `onlyIfDue` (the renewal timer): not if another instance has renewed it meanwhile.
   */
  async regenerate(options: { onlyIfDue?: boolean } = {}): Promise<void> {
    const validityMs = this.config.crlValidityHours * 3600_000;
    const built = await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [CRL_LOCK_KEY]);
      const state: CrlRow[] = await m.query('SELECT crl_number, this_update, next_update, der FROM crl_state WHERE id = 1');
      if (options.onlyIfDue && state.length && new Date(state[0].next_update).getTime() - Date.now() > validityMs / 4) {
        return { der: Buffer.from(state[0].der), nextUpdate: new Date(state[0].next_update), thisUpdate: new Date(state[0].this_update), renewed: false };
      }
      const number = state.length ? BigInt(state[0].crl_number) + 1n : 1n;
      const revoked: Array<{ serial: string; revoked_at: Date; revocation_reason: string | null }> = await m.query(
        `SELECT serial, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked' ORDER BY revoked_at`,
      );
      const now = new Date();
      const crl = await this.ca.ca.buildCrl({
        revoked: revoked.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revoked_at), reason: (r.revocation_reason ?? 'unspecified') as RevocationReason })),
        crlNumber: number,
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + this.config.crlValidityHours * 3600_000),
      });
      await m.query(
        `INSERT INTO crl_state (id, crl_number, this_update, next_update, der) VALUES (1, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET crl_number = EXCLUDED.crl_number, this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update, der = EXCLUDED.der`,
        [number.toString(), crl.thisUpdate, crl.nextUpdate, crl.der],
      );
      return { der: crl.der, nextUpdate: crl.nextUpdate, thisUpdate: crl.thisUpdate, renewed: true };
    });
    this.current = { der: built.der, nextUpdate: built.nextUpdate, thisUpdate: built.thisUpdate };
    if (built.renewed) this.cluster.publish('crl-updated', {});
  }
}
