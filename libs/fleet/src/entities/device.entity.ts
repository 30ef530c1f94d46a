import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Security counters are uint32 (bigint columns); numbers in code. */
const securityCounterColumn = { to: (v: number | null) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) };

const bigintNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

@Entity('devices')
export class DeviceEntity {
  @PrimaryColumn('varchar') id: string;
  @Column('uuid', { name: 'product_id' }) productId: string;
  @Column('uuid', { name: 'manufacturer_org_id' }) manufacturerOrgId: string;
  @Column('uuid', { name: 'operator_org_id', nullable: true }) operatorOrgId: string | null;
  @Column('varchar') status: 'active' | 'revoked';
  @Column('varchar', { name: 'key_type' }) keyType: string;
  @Column('bytea', { name: 'public_key_spki' }) publicKeySpki: Buffer;
  @Column('text', { name: 'ak_public_key', nullable: true }) akPublicKey: string | null;
  @Column('varchar', { name: 'cert_serial', nullable: true }) certSerial: string | null;
  /** Set when an operator requires a new key: renewal with the current key is refused until then. */
  @Column('timestamptz', { name: 'rekey_requested_at', nullable: true }) rekeyRequestedAt: Date | null;
  @Column('varchar', { name: 'rekey_reason', nullable: true }) rekeyReason: string | null;
  @Column('timestamptz', { name: 'cert_not_after', nullable: true }) certNotAfter: Date | null;
  @Column('varchar', { name: 'firmware_version', nullable: true }) firmwareVersion: string | null;
  @Column('bigint', { transformer: securityCounterColumn, name: 'firmware_security_counter', nullable: true }) firmwareSecurityCounter: number | null;
  @Column('bigint', { transformer: securityCounterColumn, name: 'max_security_counter_seen', nullable: true }) maxSecurityCounterSeen: number | null;
  @Column('varchar', { name: 'attestation_status', nullable: true }) attestationStatus: string | null;
  @Column('timestamptz', { name: 'attestation_at', nullable: true }) attestationAt: Date | null;
  @Column('timestamptz', { name: 'affirmed_at', nullable: true }) affirmedAt: Date | null;
  @Column('timestamptz', { name: 'last_seen_at', nullable: true }) lastSeenAt: Date | null;
  @Column('jsonb', { name: 'sl_evidenced', nullable: true }) slEvidenced: Record<string, number> | null;
  @Column('jsonb', { name: 'sl_declared', nullable: true }) slDeclared: Record<string, number> | null;
  @Column('boolean', { name: 'below_target', nullable: true }) belowTarget: boolean | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ type: 'bigint', insert: false, update: false, transformer: bigintNumber }) seq: number;
}
