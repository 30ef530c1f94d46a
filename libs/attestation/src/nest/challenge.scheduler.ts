import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, KeyedRateLimiter, rateLimited } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { BrokerService } from '@fleetguard/broker';
import { EventBusService } from '@fleetguard/events';
import { NonceStore } from './nonce.store';
import { deviceRateLimited as limited } from './attestation.metrics';


/**
 * Challenges: on request (device HTTP API, held to a per-device rate), when a device subscribes
 * to its challenge topic, and again at the configured interval; and the staleness sweep.
 */
@Injectable()
export class ChallengeScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Attestation');
  private readonly lastChallenge = new Map<string, number>();
  /** Start of the window of the next staleness sweep (devices stale before this start are not re-notified after a restart). */
  private lastSweep = Date.now();
  private timer?: NodeJS.Timeout;
  private readonly rate: KeyedRateLimiter;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly nonces: NonceStore,
    private readonly broker: BrokerService,
    private readonly events: EventBusService,
  ) {
    this.rate = new KeyedRateLimiter(config.deviceRatePerMinute, config.deviceRatePerMinute * 2);
  }

  onApplicationBootstrap(): void {
    this.broker.onDeviceReady((deviceId) => void this.challengeOverMqtt(deviceId).catch((e) => this.logger.warn(`challenge to ${deviceId} failed: ${(e as Error).message}`)));
    this.broker.onDeviceGone((deviceId) => this.lastChallenge.delete(deviceId));
    const tick = Math.max(1000, Math.min(30_000, (this.config.attestIntervalSeconds * 1000) / 4));
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
    await this.broker.publishToDevice(deviceId, 'challenge', { nonce: c.nonce, expiresAt: c.expiresAt.toISOString() });
    return c;
  }

  /** Re-challenges connected devices at the configured interval; flags devices whose last affirming result is too old. */
  private async periodic(): Promise<void> {
    const now = Date.now();
    const interval = this.config.attestIntervalSeconds * 1000;
    for (const deviceId of this.broker.connectedDevices()) {
      const last = this.lastChallenge.get(deviceId) ?? 0;
      if (now - last >= interval) await this.challengeOverMqtt(deviceId).catch(() => undefined);
    }
    // A device turns stale when its last affirming result (or, never affirmed, its last result)
    // grows older than 2 × the interval. Each sweep notifies the devices that crossed that line
    // since the previous sweep, so none is notified twice and none is missed, however many.
    const cutoff = new Date(now - 2 * interval);
    const since = new Date(this.lastSweep - 2 * interval);
    this.lastSweep = now;
    const stale: Array<{ id: string; manufacturer_org_id: string; operator_org_id: string | null; affirmed_at: Date | null }> = await this.ds.query(
      `SELECT id, manufacturer_org_id, operator_org_id, affirmed_at FROM devices
       WHERE status = 'active' AND attestation_at IS NOT NULL
         AND COALESCE(affirmed_at, attestation_at) > $1 AND COALESCE(affirmed_at, attestation_at) <= $2`,
      [since, cutoff],
    );
    for (const d of stale) {
      this.events.publish('attestation.stale', { deviceId: d.id, audience: [d.manufacturer_org_id, d.operator_org_id], data: { status: 'stale', lastAffirmedAt: d.affirmed_at } });
    }
  }
}
