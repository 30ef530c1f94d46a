import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Security counters are uint32 (bigint columns); numbers in code. */
const securityCounterColumn = { to: (v: number | null) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) };

@Entity('attestation_results')
export class AttestationResultEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { name: 'device_id' }) deviceId: string;
  @Column('uuid', { name: 'inbox_id', nullable: true }) inboxId: string | null;
  @Column('varchar') status: string;
  @Column('jsonb', { name: 'trust_vector' }) trustVector: Record<string, number>;
  @Column('jsonb') reasons: string[];
  @Column('jsonb') findings: Array<Record<string, unknown>>;
  @Column('varchar', { name: 'firmware_version', nullable: true }) firmwareVersion: string | null;
  @Column('bigint', { transformer: securityCounterColumn, name: 'security_counter', nullable: true }) securityCounter: number | null;
  @Column('text') evidence: string;
  @Column('jsonb', { nullable: true }) claims: Record<string, unknown> | null;
  @Column('text') ear: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
}
