import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { newNonce } from '../core/nonce';
import type { NonceState } from '../core/appraisal.pipeline';

/** Challenge nonces, stored so that a restart does not forget them; single use, short TTL. */
@Injectable()
export class NonceStore implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async issue(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    const n = newNonce(this.config.nonceTtlSeconds);
    await this.ds.query('INSERT INTO nonces (nonce, device_id, expires_at) VALUES ($1, $2, $3)', [n.nonce, deviceId, n.expiresAt]);
    return n;
  }

  /** Marks the nonce used for this device in one statement; tells what it was before. */
  async consume(deviceId: string, nonce: string): Promise<NonceState> {
    const rows = await this.ds.query(
      `WITH hit AS (SELECT nonce, used_at, expires_at FROM nonces WHERE nonce = $1 AND device_id = $2),
            upd AS (UPDATE nonces SET used_at = now() WHERE nonce = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > now() RETURNING 1)
       SELECT (SELECT count(*) FROM upd)::int AS consumed, (SELECT used_at FROM hit) AS used_at, (SELECT expires_at FROM hit) AS expires_at, (SELECT count(*) FROM hit)::int AS found`,
      [nonce, deviceId],
    );
    const r = rows[0];
    if (r.consumed === 1) return 'ok';
    if (r.found === 0) return 'unknown';
    if (r.used_at) return 'used';
    return 'expired';
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
