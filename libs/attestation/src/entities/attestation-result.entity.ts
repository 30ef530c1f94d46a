import { Column, Entity, PrimaryColumn } from 'typeorm';

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
  @Column('integer', { name: 'security_counter', nullable: true }) securityCounter: number | null;
  @Column('text') evidence: string;
  @Column('jsonb', { nullable: true }) claims: Record<string, unknown> | null;
  @Column('text') ear: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
}
