import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, invalid } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { AuditService, Principal, hasRole } from '@fleetguard/auth/nest';
import { BrokerService } from '@fleetguard/broker/nest';
import { FleetEventBus } from '@fleetguard/events';
import { CaService, CertificateStatusService } from '@fleetguard/pki/nest';
import { AuditFinding, auditCertificates } from '../core/certificate-audit';
import { returningRows } from '@fleetguard/persistence';

/** The EST path a device renews at (device listener, mutual TLS). */
export const REENROLL_PATH = '/.well-known/est/simplereenroll';

/**
 * Fleet-side PKI operations: issuing CA rollover (admin), forced re-key (devices marked, told
 * over MQTT `fleet/v1/devices/<id>/pki`, renewal with the old key refused), and the certificate
 * audit. Tenants see and mark their own devices only (a manufacturer its products', an operator
 * those assigned to it).
 */
@Injectable()
export class PkiAdminService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('PKI');
  /** Findings already announced as `pki.finding` (by this instance). */
  private readonly announced = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
    private readonly audit: AuditService,
    private readonly broker: BrokerService,
    private readonly events: FleetEventBus,
  ) {}

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * The audit of the whole fleet, every ten minutes: each device finding not announced before goes
   * to the device's manufacturer and operator as `pki.finding` (webhooks, the event stream).
   * Each instance remembers the findings still open that it announced (a finding that clears and
   * comes back is announced again; after a restart, open findings are announced again). The
   * connection findings are this instance's broker's; with several instances each one announces
   * what it finds (no shared record of announcements yet).
   * Not in a transaction: on PGlite the one session would be held while the audit queries wait for it.
   */
  async sweep(): Promise<number> {
    const system: Principal = { keyId: 'pki-audit', organizationId: '', organizationKind: 'system', roles: ['admin'] };
    const { findings } = await this.findings(system, SWEEP_WITHIN_DAYS);
    const open = findings.filter((f) => f.deviceId || f.deviceIds);
    const fresh = open.filter((f) => !this.announced.has(findingKey(f)));
    if (fresh.length) {
      const ids = [...new Set(fresh.flatMap(devicesOf))];
      const orgs: Array<{ id: string; manufacturer_org_id: string; operator_org_id: string | null }> = await this.ds.query('SELECT id, manufacturer_org_id, operator_org_id FROM devices WHERE id = ANY($1::text[])', [ids]);
      const byId = new Map(orgs.map((o) => [o.id, [o.manufacturer_org_id, o.operator_org_id]]));
      this.events.publishMany(
        'pki.finding',
        fresh.map((f) => ({ deviceId: devicesOf(f)[0], audience: [...new Set(devicesOf(f).flatMap((id) => byId.get(id) ?? []))], data: { ...f } })),
      );
    }
    this.announced.clear();
    for (const f of open) this.announced.add(findingKey(f));
    return fresh.length;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep().catch((e) => this.logger.warn(`certificate audit sweep failed: ${(e as Error).message}`)), SWEEP_INTERVAL_MS);
    this.timer.unref();
    // A marked device is told again each time it subscribes to its pki topic.
    this.broker.onDevicePkiReady((deviceId) => void this.noticeIfMarked(deviceId).catch((e) => this.logger.warn(`re-key notice to ${deviceId} failed: ${(e as Error).message}`)));
  }

  issuingCas() {
    return {
      current: this.ca.currentGeneration,
      root: caView(this.ca.ca.rootCertPem),
      issuing: this.ca.generations.map((g) => ({ generation: g.generation, ...caView(g.authority.intermediateCertPem), crl: this.ca.crlUrlOf(g.generation) })),
    };
  }

  async rollover(p: Principal) {
    const r = await this.ca.rollover();
    await this.audit.append({ actor: `key:${p.keyId}`, organizationId: p.organizationId, action: 'issuing CA rollover', resource: `pki/issuing-ca/${r.generation}`, outcome: 'created', details: { generation: r.generation, notAfter: r.notAfter.toISOString() } });
    return { generation: r.generation, certificate: r.certificatePem, notAfter: r.notAfter, chain: this.ca.chainPem };
  }

  /** Marks devices for a re-key and tells those connected; returns how many were marked. */
  async requestRekey(p: Principal, sel: { deviceIds?: string[]; productId?: string; caGeneration?: number; all?: boolean; reason: string }) {
    const given = [sel.deviceIds !== undefined, sel.productId !== undefined, sel.caGeneration !== undefined, sel.all === true].filter(Boolean).length;
    if (given !== 1) throw invalid('pki.bad-rekey-selection', 'name exactly one of deviceIds, productId, caGeneration or all: true');
    if (sel.caGeneration !== undefined && !this.ca.authorityOf(sel.caGeneration)) throw invalid('pki.no-such-ca', `no issuing CA generation ${sel.caGeneration}`);
    const params: unknown[] = [sel.reason];
    const where: string[] = [`d.status = 'active'`];
    if (!hasRole(p, 'admin')) {
      params.push(p.organizationId);
      where.push(`d.${p.organizationKind === 'manufacturer' ? 'manufacturer_org_id' : 'operator_org_id'} = $${params.length}`);
    }
    if (sel.deviceIds) {
      params.push(sel.deviceIds);
      where.push(`d.id = ANY($${params.length}::text[])`);
    } else if (sel.productId) {
      params.push(sel.productId);
      where.push(`d.product_id = $${params.length}`);
    } else if (sel.caGeneration !== undefined) {
      params.push(await this.status.validSerialsOf(sel.caGeneration));
      where.push(`d.cert_serial = ANY($${params.length}::text[])`);
    }
    const marked = await this.ds.transaction(async (m) => {
      const rows = returningRows<{ id: string; rekey_requested_at: Date }>(
        await m.query(`UPDATE devices d SET rekey_requested_at = now(), rekey_reason = $1 WHERE ${where.join(' AND ')} RETURNING d.id, d.rekey_requested_at`, params),
      );
      await this.audit.appendIn(m, {
        actor: `key:${p.keyId}`,
        organizationId: p.organizationId,
        action: 'request re-key',
        resource: sel.deviceIds ? `devices/${sel.deviceIds.slice(0, 20).join(',')}` : sel.productId ? `products/${sel.productId}` : sel.caGeneration !== undefined ? `pki/issuing-ca/${sel.caGeneration}` : 'devices',
        outcome: 'marked',
        details: { reason: sel.reason, count: rows.length },
      });
      return rows;
    });
    let notified = 0;
    for (const r of marked) {
      if (!this.broker.isConnected(r.id)) continue;
      await this.broker.publishToDevice(r.id, 'pki', notice(sel.reason, new Date(r.rekey_requested_at)));
      notified++;
    }
    this.logger.log(`re-key requested for ${marked.length} device(s) (${notified} told over MQTT now, the others when they subscribe): ${sel.reason}`);
    return { marked: marked.length, notifiedNow: notified, topic: 'fleet/v1/devices/<id>/pki', deviceIds: marked.slice(0, 1000).map((r) => r.id) };
  }

  private async noticeIfMarked(deviceId: string): Promise<void> {
    const rows: Array<{ rekey_requested_at: Date | null; rekey_reason: string | null }> = await this.ds.query(`SELECT rekey_requested_at, rekey_reason FROM devices WHERE id = $1 AND status = 'active'`, [deviceId]);
    const row = rows[0];
    if (row?.rekey_requested_at) await this.broker.publishToDevice(deviceId, 'pki', notice(row.rekey_reason ?? 're-key requested', new Date(row.rekey_requested_at)));
  }

  /** The certificate audit of the devices the caller sees (SPEC "PKI additions"). */
  async findings(p: Principal, withinDays: number): Promise<{ generatedAt: Date; withinDays: number; findings: AuditFinding[] }> {
    if (!(Number.isInteger(withinDays) && withinDays >= 0 && withinDays <= 36525)) throw invalid('pki.bad-days', 'days must be a whole number from 0 to 36525');
    const params: unknown[] = [];
    let scope = '';
    if (!hasRole(p, 'admin')) {
      params.push(p.organizationId);
      scope = `WHERE d.${p.organizationKind === 'manufacturer' ? 'manufacturer_org_id' : 'operator_org_id'} = $1`;
    }
    const rows: Array<{ id: string; status: string; key_type: string; public_key_spki: Buffer | Uint8Array; cert_serial: string | null; cert_not_after: Date | null; rekey_requested_at: Date | null }> = await this.ds.query(
      `SELECT d.id, d.status, d.key_type, d.public_key_spki, d.cert_serial, d.cert_not_after, d.rekey_requested_at FROM devices d ${scope}`,
      params,
    );
    const records = await this.status.recordsOf(rows.map((r) => r.cert_serial).filter((s): s is string => !!s));
    const visible = new Set(rows.map((r) => r.id));
    const devices = rows.map((r) => {
      const spki = Buffer.from(r.public_key_spki);
      let rsaBits: number | undefined;
      if (r.key_type === 'RSA') {
        try {
          rsaBits = createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength;
        } catch {
          rsaBits = undefined;
        }
      }
      return { deviceId: r.id, status: r.status, keyType: r.key_type, rsaBits, publicKeyHex: spki.toString('hex'), certSerial: r.cert_serial, certNotAfter: r.cert_not_after && new Date(r.cert_not_after), certStatus: (r.cert_serial && records.get(r.cert_serial)?.status) || null, caGeneration: (r.cert_serial && records.get(r.cert_serial)?.caGeneration) || null, rekeyRequestedAt: r.rekey_requested_at && new Date(r.rekey_requested_at) };
    });
    const connected = this.broker
      .connections()
      .filter((c) => visible.has(c.deviceId))
      .map((c) => ({ ...c, certificateRevoked: c.serialHex ? this.status.isRevoked(c.serialHex) : false }));
    const cas = [
      ...this.ca.generations.map((g) => ({ generation: g.generation as number | 'root', subject: caView(g.authority.intermediateCertPem).subject, notAfter: g.authority.intermediateNotAfter })),
      { generation: 'root' as const, subject: caView(this.ca.ca.rootCertPem).subject, notAfter: new Date(new X509Certificate(this.ca.ca.rootCertPem).validTo) },
    ];
    const findings = auditCertificates({
      now: new Date(),
      withinDays,
      caWithinDays: Math.max(withinDays, 90),
      minRsaBits: this.config.rsaMinBits,
      devices,
      cas,
      connected,
      duplicateClientIds: this.broker.duplicateClientIds().filter((d) => visible.has(d.deviceId)),
    });
    return { generatedAt: new Date(), withinDays, findings };
  }
}

const SWEEP_INTERVAL_MS = 10 * 60_000;
/** The sweep's horizon for expiring certificates, as the dashboard panel's. */
const SWEEP_WITHIN_DAYS = 30;
const devicesOf = (f: AuditFinding): string[] => (f.deviceId ? [f.deviceId] : (f.deviceIds ?? []));
const findingKey = (f: AuditFinding) => [f.kind, devicesOf(f).join('+'), f.serial ?? '', f.caGeneration ?? ''].join('|');

function notice(reason: string, requestedAt: Date) {
  return { action: 'reenroll', newKeyRequired: true, reason, requestedAt: requestedAt.toISOString(), est: REENROLL_PATH };
}

function caView(pem: string) {
  const c = new X509Certificate(pem);
  return { subject: c.subject.replace(/\n/g, ', '), serial: c.serialNumber.toLowerCase(), notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), certificate: pem };
}

