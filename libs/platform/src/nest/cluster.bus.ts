import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import Redis from 'ioredis';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from './app-config.token';

/** Cache invalidations and presence announced between instances. */
export type ClusterChannel = 'certificate-revoked' | 'api-key-revoked' | 'crl-updated' | 'ca-rolled-over';

const PREFIX = 'fleetguard:';
const INSTANCE_TTL_MS = 15_000;
const HEARTBEAT_MS = 5_000;
const PRESENCE_KEY = `${PREFIX}presence`;
/** Removes a device's presence only if this instance still holds it (a takeover elsewhere has overwritten it otherwise). */
const DEL_IF_MINE = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) else return 0 end`;

/**
 * What instances of one fleet tell each other (FLEETGUARD_REDIS_URL): Redis pub/sub for cache
 * invalidations, a presence hash (device id → instance id) and a heartbeat key per instance, so
 * any instance can tell whether a device is connected anywhere. Pub/sub is fire-and-forget:
 * every cache that listens here also re-reads the database on a timer (docs/scale.md says how
 * long each may lag when a message is lost). Without FLEETGUARD_REDIS_URL it is one instance:
 * publish does nothing (the caller has already applied the change locally) and presence is local.
 */
@Injectable()
export class ClusterBus implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Cluster');
  /** This process among the fleet's instances (a restart is a new instance). */
  readonly instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private pub?: Redis;
  private sub?: Redis;
  private readonly handlers = new Map<string, Array<(message: string) => void>>();
  private heartbeat?: NodeJS.Timeout;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get clustered(): boolean {
    return !!this.config.redisUrl;
  }

  async onModuleInit(): Promise<void> {
    const url = this.config.redisUrl;
    if (!url) return;
    const options = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: true } as const;
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, options);
    for (const c of [this.pub, this.sub]) c.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.pub.connect();
        await this.sub.connect();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`FLEETGUARD_REDIS_URL: Redis at ${url.replace(/\/\/[^@]*@/, '//***@')} is not reachable (${(e as Error).message})`);
        this.pub.disconnect();
        this.sub.disconnect();
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.sub.on('message', (channel: string, message: string) => {
      for (const h of this.handlers.get(channel.slice(PREFIX.length)) ?? []) {
        try {
          h(message);
        } catch (e) {
          this.logger.warn(`handling ${channel}: ${(e as Error).message}`);
        }
      }
    });
    if (this.handlers.size) await this.sub.subscribe(...[...this.handlers.keys()].map((c) => PREFIX + c));
    const beat = () => void this.pub!.set(`${PREFIX}instance:${this.instanceId}`, String(Date.now()), 'PX', INSTANCE_TTL_MS).catch(() => undefined);
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.logger.log(`instance ${this.instanceId} joined the fleet through Redis`);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.pub) await this.pub.del(`${PREFIX}instance:${this.instanceId}`).catch(() => undefined);
    this.pub?.disconnect();
    this.sub?.disconnect();
  }

  /** Tells the other instances (fire-and-forget; a lost message is made good by the listener's re-read). */
  publish(channel: ClusterChannel, message: object): void {
    if (!this.pub) return;
    void this.pub.publish(PREFIX + channel, JSON.stringify({ from: this.instanceId, ...message })).catch((e: Error) => this.logger.warn(`publishing ${channel}: ${e.message}`));
  }

  /** Messages of other instances on one channel (this instance's own are skipped). */
  on<T extends object>(channel: ClusterChannel, handler: (message: T) => void): void {
    const list = this.handlers.get(channel) ?? [];
    const wrapped = (raw: string) => {
      const m = JSON.parse(raw) as T & { from?: string };
      if (m.from !== this.instanceId) handler(m);
    };
    list.push(wrapped);
    if (!this.handlers.has(channel)) {
      this.handlers.set(channel, list);
      if (this.sub?.status === 'ready') void this.sub.subscribe(PREFIX + channel).catch(() => undefined);
    }
  }

  /** Records that a device is connected to this instance (a connection elsewhere overwrites it). */
  notePresent(deviceId: string): void {
    if (this.pub) void this.pub.hset(PRESENCE_KEY, deviceId, this.instanceId).catch(() => undefined);
  }

  noteGone(deviceId: string): void {
    if (this.pub) void this.pub.eval(DEL_IF_MINE, 1, PRESENCE_KEY, deviceId, this.instanceId).catch(() => undefined);
  }

  /** The live instance a device is connected to, or null (none, or its instance stopped beating). */
  async instanceOf(deviceId: string): Promise<string | null> {
    if (!this.pub) return null;
    const id = await this.pub.hget(PRESENCE_KEY, deviceId);
    if (!id) return null;
    return (await this.pub.exists(`${PREFIX}instance:${id}`)) ? id : null;
  }
}
