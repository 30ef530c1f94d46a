import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Security counters are uint32 (bigint columns); numbers in code. */
const securityCounterColumn = { to: (v: number | null) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) };

export interface ReferenceValues {
  events: Array<{ pcr: number; component: string; digest: string }>;
  pcrs?: Record<string, string>;
}

const bigintNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

@Entity('firmware_releases')
export class FirmwareReleaseEntity {
  @PrimaryColumn('uuid', { name: 'product_id' }) productId: string;
  @PrimaryColumn('varchar') version: string;
  @Column('varchar') format: 'mcuboot' | 'detached';
  @Column('bigint', { transformer: securityCounterColumn, name: 'security_counter' }) securityCounter: number;
  @Column('varchar') digest: string;
  @Column('bigint', { transformer: bigintNumber }) size: number;
  @Column('char', { name: 'signer_key_id' }) signerKeyId: string;
  @Column('varchar') status: 'trusted' | 'revoked';
  @Column('varchar', { name: 'revoked_reason', nullable: true }) revokedReason: string | null;
  @Column('jsonb', { name: 'reference_values', nullable: true }) referenceValues: ReferenceValues | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
