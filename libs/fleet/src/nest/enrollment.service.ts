import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPublicKey, randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig, DomainError, invalid, notFound } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { AuditService, AuthService, Principal } from '@fleetguard/auth';
import { CaService, CertificateEntity, CertificateStatusService, IssuedCertificate, ParsedCsr, parseCsr } from '@fleetguard/pki';
import { ENROLLMENT_TOKEN, hashEnrollmentToken, newDeviceId, newEnrollmentToken } from '../core/enrollment-token';
import { DeviceEntity } from '../entities/device.entity';
import { EnrollmentTokenEntity } from '../entities/enrollment-token.entity';
import { ProductsService } from './products.service';

export interface EnrollmentResult {
  deviceId: string;
  certificate: string;
  chain: string;
  serial: string;
  notAfter: Date;
}

const denied = (code: string, message: string) => new DomainError(code, message, 'unauthorized');

/**
 * Enrollment tokens (manufacturer side) and enrollment itself (device side): a single-use,
 * expiring token bound to a product (and optionally an operator) plus a CSR whose signature
 * proves possession of the key gives a device record and its certificate.
 */
@Injectable()
export class EnrollmentService {
  private readonly logger = new Logger('Enrollment');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly products: ProductsService,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
  ) {}

  async createTokens(p: Principal, productId: string, count: number, expiresInSeconds: number, operatorOrganizationId?: string): Promise<{ tokens: string[]; expiresAt: Date }> {
    await this.products.getOwned(p, productId);
    if (operatorOrganizationId) {
      const org = await this.auth.findOrganization(operatorOrganizationId);
      if (!org || org.kind !== 'operator') throw notFound('organization.not-found', `no operator organization ${operatorOrganizationId}`);
    }
    const expiresAt = new Date(Date.now() + expiresInSeconds * 1000);
    const made = Array.from({ length: count }, () => newEnrollmentToken());
    await this.ds.getRepository(EnrollmentTokenEntity).insert(
      made.map((t) => ({ id: randomUUID(), tokenHash: t.hash, productId, operatorOrgId: operatorOrganizationId ?? null, createdBy: p.keyId, expiresAt, usedAt: null, deviceId: null })),
    );
    return { tokens: made.map((t) => t.token), expiresAt };
  }

  /** Checks the request itself before any token is spent: a bad CSR leaves the token usable. */
  async checkCsr(csr: string | Buffer): Promise<ParsedCsr> {
    return parseCsr(csr, { minRsaBits: this.config.rsaMinBits });
  }

  async enroll(input: { token: string; csr: ParsedCsr; akPublicKey?: string; productId?: string; channel: 'enroll' | 'est' }): Promise<EnrollmentResult> {
    const akPem = input.akPublicKey ? normaliseAk(input.akPublicKey) : null;
    if (!ENROLLMENT_TOKEN.test(input.token)) throw denied('enrollment.bad-token', 'the enrollment token is not valid');
    const deviceId = newDeviceId();
    const result = await this.ds.transaction(async (m) => {
      const rows: EnrollmentTokenEntity[] = await m
        .getRepository(EnrollmentTokenEntity)
        .createQueryBuilder('t')
        .setLock('pessimistic_write')
        .where('t.token_hash = :h', { h: hashEnrollmentToken(input.token) })
        .getMany();
      const token = rows[0];
      if (!token) throw denied('enrollment.bad-token', 'the enrollment token is not valid');
      if (token.usedAt) throw new DomainError('enrollment.token-used', 'the enrollment token was used already', 'conflict');
      if (token.expiresAt.getTime() < Date.now()) throw new DomainError('enrollment.token-expired', 'the enrollment token has expired', 'gone');
      if (input.productId && input.productId !== token.productId) {
        throw new DomainError('enrollment.wrong-product', 'the enrollment token belongs to another product', 'forbidden');
      }
      const product = await m.query('SELECT organization_id FROM products WHERE id = $1', [token.productId]);
      const issued = await this.issue(deviceId, input.csr);
      await m.getRepository(DeviceEntity).insert({
        id: deviceId,
        productId: token.productId,
        manufacturerOrgId: product[0].organization_id,
        operatorOrgId: token.operatorOrgId,
        status: 'active',
        keyType: input.csr.keyType,
        publicKeySpki: input.csr.publicKeySpkiDer,
        akPublicKey: akPem,
        certSerial: issued.serialHex,
        certNotAfter: issued.notAfter,
      });
      await this.storeCertificate(m, deviceId, issued);
      await m.getRepository(EnrollmentTokenEntity).update({ id: token.id }, { usedAt: new Date(), deviceId });
      return { issued, token };
    });
    this.status.noteIssued(result.issued.serialHex, deviceId, result.issued.notAfter);
    await this.audit.append({
      actor: `enrollment-token:${result.token.id}`,
      organizationId: null,
      action: input.channel === 'est' ? 'EST simpleenroll' : 'POST /enroll',
      resource: `devices/${deviceId}`,
      outcome: 'issued',
      details: { serial: result.issued.serialHex, productId: result.token.productId, keyType: input.csr.keyType, notAfter: result.issued.notAfter.toISOString() },
    });
    return { deviceId, certificate: result.issued.certificatePem, chain: this.ca.chainPem, serial: result.issued.serialHex, notAfter: result.issued.notAfter };
  }

  /**
   * Renewal over mutual TLS (EST simplereenroll): the presented certificate (valid, or expired
   * within the grace period, and not revoked) names the device; the new CSR must ask for the
   * same subject. The new key may differ.
   */
  async reenroll(device: { deviceId: string; serialHex: string }, csr: ParsedCsr): Promise<EnrollmentResult> {
    if (csr.commonName !== device.deviceId) {
      throw new DomainError('enrollment.subject-mismatch', `the request asks for CN=${csr.commonName ?? '(none)'} but the client certificate is CN=${device.deviceId}`, 'forbidden');
    }
    const issued = await this.ds.transaction(async (m) => {
      const row = await m.getRepository(DeviceEntity).createQueryBuilder('d').setLock('pessimistic_write').where('d.id = :id', { id: device.deviceId }).getOne();
      if (!row || row.status !== 'active') throw denied('enrollment.device-revoked', 'this device is revoked');
      const cert = await this.issue(device.deviceId, csr);
      await this.storeCertificate(m, device.deviceId, cert);
      await m.query(`UPDATE certificates SET status = 'superseded' WHERE serial = $1 AND status = 'valid'`, [device.serialHex]);
      await m.getRepository(DeviceEntity).update({ id: device.deviceId }, { certSerial: cert.serialHex, certNotAfter: cert.notAfter, publicKeySpki: csr.publicKeySpkiDer, keyType: csr.keyType });
      return cert;
    });
    this.status.noteIssued(issued.serialHex, device.deviceId, issued.notAfter);
    await this.audit.append({ actor: `device:${device.deviceId}`, action: 'EST simplereenroll', resource: `devices/${device.deviceId}`, outcome: 'issued', details: { serial: issued.serialHex, previous: device.serialHex } });
    return { deviceId: device.deviceId, certificate: issued.certificatePem, chain: this.ca.chainPem, serial: issued.serialHex, notAfter: issued.notAfter };
  }

  private issue(deviceId: string, csr: ParsedCsr): Promise<IssuedCertificate> {
    return this.ca.ca.issueDeviceCertificate({ csr, deviceId, validityDays: this.config.certValidityDays, crlDistributionUrl: this.ca.crlUrl });
  }

  private async storeCertificate(m: EntityManager, deviceId: string, c: IssuedCertificate): Promise<void> {
    await m.getRepository(CertificateEntity).insert({ serial: c.serialHex, deviceId, pem: c.certificatePem, notBefore: c.notBefore, notAfter: c.notAfter, status: 'valid', revokedAt: null, revocationReason: null, issuedAt: new Date() });
  }
}

/** The attestation key a device registers at enrollment: a PEM public key (EC or RSA). */
function normaliseAk(pem: string): string {
  try {
    const key = createPublicKey(pem);
    if (!['ec', 'rsa', 'rsa-pss'].includes(key.asymmetricKeyType ?? '')) throw new Error('type');
    return key.export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw invalid('enrollment.bad-ak', 'akPublicKey must be a PEM public key (EC or RSA) of the TPM attestation key');
  }
}
