import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { RevocationReason } from '../core/revocation-reason.codec';
import type { IssuedDeviceCertificate } from './ca.service';
import { CertificateRepository } from './certificate.repository';

/**
 * What other libs' transactions record in pki's certificates table (fleet's renewals and device
 * revocations), through pki's facade rather than its repository: each call runs in the caller's
 * transaction (`m`), so it commits with the caller's own writes or not at all.
 */
@Injectable()
export class DeviceCertificatesService {
  constructor(private readonly repo: CertificateRepository) {}

  /** A renewal: the new certificate recorded as valid, the one it replaces superseded (it renews no more). */
  async recordRenewal(m: EntityManager, deviceId: string, issued: IssuedDeviceCertificate, previousSerial: string): Promise<void> {
    await this.repo.storeIssued(m, deviceId, issued);
    await this.repo.supersede(m, previousSerial);
  }

  /** Every certificate of a device not revoked yet (valid or superseded), revoked; what it revoked. */
  revokeAllOf(m: EntityManager, deviceId: string, at: Date, reason: RevocationReason): Promise<Array<{ serial: string; notAfter: Date }>> {
    return this.repo.revokeOfDevice(m, deviceId, at, reason);
  }
}
