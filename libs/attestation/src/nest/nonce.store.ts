import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { newNonce, type Challenge } from '../core/nonce';
import { IssuedNonces, type IssuedNonce } from '../core/issued-nonces';
import { GroupedCall } from '@fleetguard/common';
import { namedStatement } from '@fleetguard/persistence';

/** Challenge nonces, stored so that a restart does not forget them; single use, short TTL. */
@Injectable()
export class NonceStore implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  /** What this instance issued and has not seen used: the early look's answer without a round trip (a hint; core/issued-nonces.ts). */
  private readonly issued = new IssuedNonces();
  /** Challenges issued in one burst are stored in one INSERT (each nonce is fresh: no keys). */
  private readonly inserts = new GroupedCall<{ deviceId: string; c: Challenge }, void>(async (items) => {
    await this.ds.query(namedStatement('attestation.nonces.insert', 'INSERT INTO nonces (nonce, device_id, expires_at) SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::timestamptz[])'), [
      items.map((x) => x.c.nonce),
      items.map((x) => x.deviceId),
      items.map((x) => x.c.expiresAt.toISOString()),
    ]);
    return items.map(() => undefined);
  });

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async issue(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    const n = newNonce(this.config.nonceTtlSeconds);
    await this.inserts.call({ deviceId, c: n });
    this.issued.remember(n.nonce, deviceId, n.expiresAt);
    return n;
  }

  /** The nonce as this instance stored it, when it issued it and has not committed a result with it; undefined: read the stored row. */
  issuedHere(nonce: string): IssuedNonce | undefined {
    return this.issued.lookup(nonce);
  }

  /** A result with this nonce committed (its evidence reads the stored row from now on). */
  used(nonce: string): void {
    this.issued.used(nonce);
  }

  onModuleInit(): void {
    // Nonces expire in minutes; keep a day of them for the record, then drop them.
    this.timer = setInterval(() => void this.ds.query(`DELETE FROM nonces WHERE expires_at < now() - interval '1 day'`).catch(() => undefined), 3600_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
