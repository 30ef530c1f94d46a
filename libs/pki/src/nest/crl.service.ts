import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform/nest';
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
 * quarter of its validity left), one per issuing CA generation. Kept in the database so every
 * instance serves the same one: an instance that regenerates it tells the others (cluster bus), and
 * each re-reads the stored one every 30 s anyway (so a lost message delays another instance's copy
 * by 30 s at most). The timer's regeneration is fleet-wide work done once: under the advisory lock,
 * an instance finding that another has just renewed it leaves it.
 */
@Injectable()
export class CrlService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CRL');
  /** Per issuing CA generation. */
  private readonly current = new Map<number, { der: Buffer; nextUpdate: Date; thisUpdate: Date }>();
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ca: CaService,
    private readonly cluster: ClusterBus,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ensureFresh();
    this.cluster.on('crl-updated', () => void this.ensureFresh().catch((e) => this.logger.warn(`CRL re-read failed: ${(e as Error).message}`)));
    this.timer = setInterval(() => void this.ensureFresh().catch((e) => this.logger.error(`CRL refresh failed: ${(e as Error).message}`)), 30_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The CRL of an issuing CA (default: the first, `/pki/crl`); undefined for a generation we do not have. */
  async der(generation = 1): Promise<Buffer | undefined> {
    if (!this.ca.authorityOf(generation)) return undefined;
    const c = this.current.get(generation);
    if (!c || c.nextUpdate.getTime() < Date.now()) await this.ensureFresh(generation);
    return this.current.get(generation)!.der;
  }

  async pem(generation = 1): Promise<string | undefined> {
    const der = await this.der(generation);
    return der && pemEncode(der, 'X509 CRL');
  }

  /** Every issuing CA's CRL is kept fresh: an old CA's until the service drops it (its certificates expired). */
  private async ensureFresh(only?: number): Promise<void> {
    for (const { generation } of this.ca.generations) {
      if (only !== undefined && generation !== only) continue;
      const rows: CrlRow[] = await this.ds.query('SELECT crl_number, this_update, next_update, der FROM crl_state WHERE id = $1', [generation]);
      const row = rows[0];
      const validityMs = this.config.crlValidityHours * 3600_000;
      if (row && new Date(row.next_update).getTime() - Date.now() > validityMs / 4) {
        this.current.set(generation, { der: Buffer.from(row.der), nextUpdate: new Date(row.next_update), thisUpdate: new Date(row.this_update) });
        continue;
      }
      await this.regenerateOne(generation, { onlyIfDue: true });
    }
  }

  /** Builds and stores new CRLs from the revoked certificates (each issuing CA lists its own). Called after each revocation. */
  async regenerate(only?: number): Promise<void> {
    for (const { generation } of this.ca.generations) if (only === undefined || only === generation) await this.regenerateOne(generation);
  }

  /** `onlyIfDue` (the renewal timer): not if another instance has renewed it meanwhile. */
  private async regenerateOne(generation: number, options: { onlyIfDue?: boolean } = {}): Promise<void> {
    const authority = this.ca.authorityOf(generation)!;
    const validityMs = this.config.crlValidityHours * 3600_000;
    const built = await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [CRL_LOCK_KEY]);
      const state: CrlRow[] = await m.query('SELECT crl_number, this_update, next_update, der FROM crl_state WHERE id = $1', [generation]);
      if (options.onlyIfDue && state.length && new Date(state[0].next_update).getTime() - Date.now() > validityMs / 4) {
        return { der: Buffer.from(state[0].der), nextUpdate: new Date(state[0].next_update), thisUpdate: new Date(state[0].this_update), renewed: false };
      }
      const number = state.length ? BigInt(state[0].crl_number) + 1n : 1n;
      const revoked: Array<{ serial: string; revoked_at: Date; revocation_reason: string | null }> = await m.query(
        `SELECT serial, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked' AND ca_generation = $1 ORDER BY revoked_at`,
        [generation],
      );
      const now = new Date();
      const crl = await authority.buildCrl({
        revoked: revoked.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revoked_at), reason: (r.revocation_reason ?? 'unspecified') as RevocationReason })),
        crlNumber: number,
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + this.config.crlValidityHours * 3600_000),
      });
      await m.query(
        `INSERT INTO crl_state (id, crl_number, this_update, next_update, der) VALUES ($5, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET crl_number = EXCLUDED.crl_number, this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update, der = EXCLUDED.der`,
        [number.toString(), crl.thisUpdate, crl.nextUpdate, crl.der, generation],
      );
      return { der: crl.der, nextUpdate: crl.nextUpdate, thisUpdate: crl.thisUpdate, renewed: true };
    });
    this.current.set(generation, { der: built.der, nextUpdate: built.nextUpdate, thisUpdate: built.thisUpdate });
    if (built.renewed) this.cluster.publish('crl-updated', { generation });
  }
}
