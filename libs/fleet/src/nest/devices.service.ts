import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, SelectQueryBuilder } from 'typeorm';
import { DomainError, GroupedCall, notFound } from '@fleetguard/common';
import { returningRows } from '@fleetguard/persistence';
import { AuditService, Principal, hasRole } from '@fleetguard/auth/nest';
import { FleetEventBus } from '@fleetguard/events';
import { MqttInbound, type InboundOutcome } from '@fleetguard/broker/nest';
import { CertificateStatusService, CrlService, DeviceCertificatesService } from '@fleetguard/pki/nest';
import { RevocationReason, parseRevocationReason } from '@fleetguard/pki';
import { DeviceEntity } from '../entities/device.entity';

/** Devices as tenants see them: a manufacturer those of its products, an operator those assigned to it. */
@Injectable()
export class DevicesService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly status: CertificateStatusService,
    private readonly crl: CrlService,
    private readonly certificates: DeviceCertificatesService,
    private readonly audit: AuditService,
    private readonly events: FleetEventBus,
  ) {}

  scope<T extends object>(qb: SelectQueryBuilder<T>, p: Principal, alias = 'd'): SelectQueryBuilder<T> {
    if (hasRole(p, 'admin')) return qb;
    const column = p.organizationKind === 'manufacturer' ? 'manufacturer_org_id' : 'operator_org_id';
    return qb.andWhere(`${alias}.${column} = :scopeOrg`, { scopeOrg: p.organizationId });
  }

  /** A device the caller may see, else 404 (also another tenant's). */
  async get(p: Principal, id: string): Promise<DeviceEntity> {
    const qb = this.ds.getRepository(DeviceEntity).createQueryBuilder('d').where('d.id = :id', { id });
    const device = await this.scope(qb, p).getOne();
    if (!device) throw notFound('device.not-found', `no device ${id}`);
    return device;
  }

  async findById(id: string): Promise<DeviceEntity | null> {
    return this.ds.getRepository(DeviceEntity).findOne({ where: { id } });
  }

  /**
   * Revokes a device: every certificate it holds is revoked with the RFC 5280 reason, the CRL is
   * regenerated, and the listeners refuse the device from now on (the broker drops it). The
   * device's manufacturer and operator are told (`device.revoked`: webhooks, the dashboard's stream).
   */
  async revoke(p: Principal, id: string, reasonText: string): Promise<{ deviceId: string; revokedSerials: string[]; reason: RevocationReason }> {
    const reason = parseRevocationReason(reasonText);
    if (reason === 'removeFromCRL') throw new DomainError('device.bad-reason', 'removeFromCRL is for delta CRLs, not a reason to revoke', 'invalid');
    const device = await this.get(p, id);
    if (device.status === 'revoked') throw new DomainError('device.already-revoked', `device ${id} is revoked already`, 'conflict');
    const now = new Date();
    const revoked = await this.ds.transaction(async (m) => {
      await m.getRepository(DeviceEntity).update({ id }, { status: 'revoked' });
      // pki's certificates, revoked in this transaction: the device row, its certificates and the audit entry commit together.
      const serials = await this.certificates.revokeAllOf(m, id, now, reason);
      // The entry commits with the revocation or neither does.
      await this.audit.appendIn(m, { actor: `key:${p.keyId}`, organizationId: p.organizationId, action: 'revoke device certificates', resource: `devices/${id}`, outcome: 'revoked', details: { serials: serials.map((r) => r.serial), reason } });
      return serials;
    });
    for (const r of revoked) this.status.noteRevoked(r.serial, id, r.notAfter);
    await this.crl.regenerate();
    this.events.publish('device.revoked', { deviceId: id, audience: [device.manufacturerOrgId, device.operatorOrgId], data: { status: 'revoked', reason, revokedSerials: revoked.map((r) => r.serial) } });
    return { deviceId: id, revokedSerials: revoked.map((r) => r.serial), reason };
  }

  /** Presence (MQTT `fleet/v1/devices/<id>/status`): the device was seen now, recorded before the PUBACK. */
  @MqttInbound('status')
  async notePresent(deviceId: string): Promise<InboundOutcome> {
    await this.presence.call(deviceId);
    return { ack: true };
  }

  /**
   * The status messages of a burst in one UPDATE (one statement per burst, not per message).
   * Rows another transaction holds (an appraisal's commit updating the same device) are skipped
   * there and updated one by one after it: a statement that waited for several rows while holding
   * others could close a cycle with that commit (a deadlock fails a whole group); a single-row
   * update holds nothing else while it waits.
   */
  private readonly presence = new GroupedCall<string, void>(async (ids) => {
    const unique = [...new Set(ids)];
    const done = returningRows<{ id: string }>(
      await this.ds.query(
        `WITH l AS (SELECT id FROM devices WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE SKIP LOCKED)
         UPDATE devices d SET last_seen_at = now() FROM l WHERE d.id = l.id RETURNING d.id`,
        [unique],
      ),
    );
    const updated = new Set(done.map((r) => r.id));
    for (const id of unique) if (!updated.has(id)) await this.ds.query('UPDATE devices SET last_seen_at = now() WHERE id = $1', [id]);
    return ids.map(() => undefined);
  });
}
