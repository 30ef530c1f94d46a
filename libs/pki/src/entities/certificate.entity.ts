import { Column, Entity, PrimaryColumn } from 'typeorm';

export type CertificateStatus = 'valid' | 'revoked' | 'superseded';

@Entity('certificates')
export class CertificateEntity {
  @PrimaryColumn('varchar') serial: string;
  @Column('varchar', { name: 'device_id' }) deviceId: string;
  @Column('text') pem: string;
  @Column('timestamptz', { name: 'not_before' }) notBefore: Date;
  @Column('timestamptz', { name: 'not_after' }) notAfter: Date;
  @Column('varchar') status: CertificateStatus;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
  @Column('varchar', { name: 'revocation_reason', nullable: true }) revocationReason: string | null;
  @Column('timestamptz', { name: 'issued_at' }) issuedAt: Date;
  /** The issuing CA that signed it: 1 = the first, one more per rollover. */
  @Column('integer', { name: 'ca_generation', default: 1 }) caGeneration: number;
}
