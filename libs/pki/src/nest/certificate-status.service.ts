import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ClusterBus } from '@fleetguard/platform/nest';
import { FleetEventBus } from '@fleetguard/events';
import { CertificateEntity } from '../entities/certificate.entity';

export type CertState = 'valid' | 'revoked' | 'expired' | 'unknown';

interface Entry {
  deviceId: string;
  revoked: boolean;
  notAfter: number;
}

const REFRESH_MS = 2_000;
const WARM_LIMIT = 200_000;

/**
 * The certificate status every device-facing listener consults (device HTTPS, MQTT). Revocations
 * made in this process take effect at once; another instance's are announced through the
 * cluster bus (Redis, when several instances run) and, should that message be lost, picked up
 * by a poll of the database every two seconds. Each certificate this process learns is revoked
 * (by any of the three ways) is published once as `certificate.revoked` on the fleet event bus,
 * so the broker can drop live connections: a revocation anywhere drops the device wherever it is
 * connected within the poll period at worst.
 */
@Injectable()
export class CertificateStatusService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CertStatus');
  private readonly bySerial = new Map<string, Entry>();
  private lastRevocationSeen = new Date(0);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly cluster: ClusterBus,
    private readonly events: FleetEventBus,
  ) {}

  async onModuleInit(): Promise<void> {
    this.cluster.on<{ serial: string; deviceId: string; notAfter: string }>('certificate-revoked', (m) => this.applyRevoked(m.serial, m.deviceId, new Date(m.notAfter)));
    await this.warm();
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((e) => this.logger.warn(`refresh failed: ${(e as Error).message}`)), REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Loads the current certificates at boot (up to WARM_LIMIT, newest first), so a reconnect storm
   * after a restart is answered from memory instead of one query per handshake.
   */
  private async warm(): Promise<void> {
    const rows: Array<{ serial: string; device_id: string; not_after: Date }> = await this.ds.query(
      `SELECT serial, device_id, not_after FROM certificates WHERE status = 'valid' AND not_after > now() ORDER BY not_after DESC LIMIT $1`,
      [WARM_LIMIT],
    );
    for (const r of rows) this.bySerial.set(r.serial.toLowerCase(), { deviceId: r.device_id, revoked: false, notAfter: new Date(r.not_after).getTime() });
    if (rows.length) this.logger.log(`certificate status cache warmed with ${rows.length} certificate(s)`);
  }

  /** Status of a certificate by serial (hex); consults the database on a miss. */
  async status(serialHex: string, at = Date.now()): Promise<CertState> {
    const serial = serialHex.toLowerCase();
    let e = this.bySerial.get(serial);
    if (!e) {
      const row = await this.ds.getRepository(CertificateEntity).findOne({ where: { serial } });
      if (!row) return 'unknown';
      e = { deviceId: row.deviceId, revoked: row.status === 'revoked', notAfter: row.notAfter.getTime() };
      this.bySerial.set(serial, e);
    }
    if (e.revoked) return 'revoked';
    if (e.notAfter < at) return 'expired';
    return 'valid';
  }

  /** Synchronous check for hot paths (MQTT publish): revoked if known revoked. */
  isRevoked(serialHex: string): boolean {
    return this.bySerial.get(serialHex.toLowerCase())?.revoked ?? false;
  }

  /** The serials a given issuing CA signed that are still in use (valid), for a re-key of its devices. */
  async validSerialsOf(caGeneration: number): Promise<string[]> {
    const rows: Array<{ serial: string }> = await this.ds.query(`SELECT serial FROM certificates WHERE ca_generation = $1 AND status = 'valid'`, [caGeneration]);
    return rows.map((r) => r.serial);
  }

  /** Status and issuing CA of certificates by serial (the certificate audit). */
  async recordsOf(serials: readonly string[]): Promise<Map<string, { status: string; caGeneration: number }>> {
    if (!serials.length) return new Map();
    const rows: Array<{ serial: string; status: string; ca_generation: number }> = await this.ds.query(
      'SELECT serial, status, ca_generation FROM certificates WHERE serial = ANY($1::text[])',
      [serials],
    );
    return new Map(rows.map((r) => [r.serial, { status: r.status, caGeneration: Number(r.ca_generation) }]));
  }

  noteIssued(serialHex: string, deviceId: string, notAfter: Date): void {
    this.bySerial.set(serialHex.toLowerCase(), { deviceId, revoked: false, notAfter: notAfter.getTime() });
  }

  /** A revocation made by this instance: applied here and announced to the others. */
  noteRevoked(serialHex: string, deviceId: string, notAfter: Date): void {
    this.applyRevoked(serialHex, deviceId, notAfter);
    this.cluster.publish('certificate-revoked', { serial: serialHex.toLowerCase(), deviceId, notAfter: notAfter.toISOString() });
  }

  private applyRevoked(serialHex: string, deviceId: string, notAfter: Date): void {
    const serial = serialHex.toLowerCase();
    const before = this.bySerial.get(serial);
    this.bySerial.set(serial, { deviceId, revoked: true, notAfter: notAfter.getTime() });
    if (!before?.revoked) this.events.publish('certificate.revoked', { deviceId, serial });
  }

  private async refresh(): Promise<void> {
    const rows = await this.ds
      .getRepository(CertificateEntity)
      .createQueryBuilder('c')
      .where(`c.status = 'revoked' AND c.revoked_at > :since`, { since: this.lastRevocationSeen })
      .orderBy('c.revoked_at', 'ASC')
      .getMany();
    for (const r of rows) {
      this.applyRevoked(r.serial, r.deviceId, r.notAfter);
      if (r.revokedAt && r.revokedAt > this.lastRevocationSeen) this.lastRevocationSeen = r.revokedAt;
    }
  }
}
