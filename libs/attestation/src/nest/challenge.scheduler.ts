import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, KeyedRateLimiter, rateLimited, STALE_AFTER_INTERVALS } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { BrokerService } from '@fleetguard/broker/nest';
import { FleetEventBus } from '@fleetguard/events';
import { NonceStore } from './nonce.store';
import { deviceRateLimited as limited } from './attestation.metrics';


/**
 * Challenges: on request (device HTTP API, held to a per-device rate), when a device subscribes
 * to its challenge topic, and again at the configured interval; and the staleness sweep.
 * Each instance challenges the devices connected to it. A device that has not answered a
 * challenge within the nonce lifetime is challenged again (the challenge, or its result, may
 * have been lost, e.g. a Redis message between instances). The staleness sweep is fleet-wide
 * work: the instance that takes the sweep row's lock sweeps the window since the last sweep of
 * any instance, so each stale device is notified once however many instances run.
 */
@Injectable()
export class ChallengeScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Attestation');
  private readonly lastChallenge = new Map<string, number>();
  /** Devices challenged over MQTT that have sent no evidence since (device → when challenged). */
  private readonly unanswered = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private tickMs = 30_000;
  private readonly rate: KeyedRateLimiter;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly nonces: NonceStore,
    private readonly broker: BrokerService,
    private readonly events: FleetEventBus,
  ) {
    this.rate = new KeyedRateLimiter(config.deviceRatePerMinute, config.deviceRatePerMinute * 2);
  }

  onApplicationBootstrap(): void {
    this.broker.onDeviceReady((deviceId) => void this.challengeOverMqtt(deviceId).catch((e) => this.logger.warn(`challenge to ${deviceId} failed: ${(e as Error).message}`)));
    this.broker.onDeviceGone((deviceId) => {
      this.lastChallenge.delete(deviceId);
      this.unanswered.delete(deviceId);
    });
    const tick = Math.max(1000, Math.min(30_000, (this.config.attestIntervalSeconds * 1000) / 4));
    this.tickMs = tick;
    this.timer = setInterval(() => void this.periodic().catch((e) => this.logger.warn(`periodic attestation failed: ${(e as Error).message}`)), tick);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** A challenge the device asked for (HTTP). */
  async challenge(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    if (!this.rate.take(deviceId)) {
      limited.inc({ kind: 'challenge', channel: 'http' });
      throw rateLimited('challenge.rate-limited', `more than ${this.rate.ratePerMinute} challenges a minute`, this.rate.retryAfterSeconds(deviceId));
    }
    return this.nonces.issue(deviceId);
  }

  async challengeOverMqtt(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    const c = await this.nonces.issue(deviceId);
    this.lastChallenge.set(deviceId, Date.now());
    if (!this.unanswered.has(deviceId)) this.unanswered.set(deviceId, Date.now());
    await this.broker.publishToDevice(deviceId, 'challenge', { nonce: c.nonce, expiresAt: c.expiresAt.toISOString() });
    return c;
  }

  /** Evidence came in from a device connected here: its challenge was answered. */
  noteAnswered(deviceId: string): void {
    this.unanswered.delete(deviceId);
  }

  /** Re-challenges connected devices at the configured interval (sooner when unanswered); flags devices whose last affirming result is too old. */
  private async periodic(): Promise<void> {
    const now = Date.now();
    const interval = this.config.attestIntervalSeconds * 1000;
    const answerWithin = this.config.nonceTtlSeconds * 1000;
    for (const deviceId of this.broker.connectedDevices()) {
      const last = this.lastChallenge.get(deviceId) ?? 0;
      const asked = this.unanswered.get(deviceId);
      if (now - last >= interval || (asked !== undefined && now - asked >= answerWithin)) {
        this.unanswered.delete(deviceId);
        await this.challengeOverMqtt(deviceId).catch(() => undefined);
      }
    }
    await this.sweepStale(now, interval);
  }

  /**
   * A device turns stale when its last affirming result (or, never affirmed, its last result)
   * grows older than STALE_AFTER_INTERVALS × the interval (the kernel's staleness rule). A sweep notifies the devices that crossed that line since
   * the previous sweep (of any instance: the window's end is stored), so none is notified twice
   * and none is missed, however many instances. An instance finding the row locked, or swept
   * less than a tick ago, leaves it.
   */
  async sweepStale(now = Date.now(), interval = this.config.attestIntervalSeconds * 1000): Promise<number> {
    const stale = await this.ds.transaction(async (m) => {
      const rows: Array<{ swept_until: Date }> = await m.query(`SELECT swept_until FROM attestation_sweeps WHERE name = 'stale' FOR UPDATE SKIP LOCKED`);
      if (!rows.length) return [];
      const sweptUntil = new Date(rows[0].swept_until).getTime();
      if (now - sweptUntil < this.tickMs * 0.9) return [];
      const found: Array<{ id: string; manufacturer_org_id: string; operator_org_id: string | null; affirmed_at: Date | null }> = await m.query(
        `SELECT id, manufacturer_org_id, operator_org_id, affirmed_at FROM device_directory
         WHERE status = 'active' AND attestation_at IS NOT NULL
           AND COALESCE(affirmed_at, attestation_at) > $1 AND COALESCE(affirmed_at, attestation_at) <= $2`,
        [new Date(sweptUntil - STALE_AFTER_INTERVALS * interval), new Date(now - STALE_AFTER_INTERVALS * interval)],
      );
      await m.query(`UPDATE attestation_sweeps SET swept_until = $1 WHERE name = 'stale'`, [new Date(now)]);
      return found;
    });
    for (const d of stale) {
      this.events.publish('attestation.stale', { deviceId: d.id, audience: [d.manufacturer_org_id, d.operator_org_id], data: { status: 'stale', lastAffirmedAt: d.affirmed_at && new Date(d.affirmed_at).toISOString() } });
    }
    return stale.length;
  }
}
