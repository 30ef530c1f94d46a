import { Column, Entity, PrimaryColumn } from 'typeorm';

const bigintNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

@Entity('audit_log')
export class AuditEntryEntity {
  @PrimaryColumn('bigint', { transformer: bigintNumber }) seq: number;
  @Column('timestamptz') at: Date;
  @Column('varchar') actor: string;
  @Column('uuid', { name: 'organization_id', nullable: true }) organizationId: string | null;
  @Column('varchar') action: string;
  @Column('varchar', { nullable: true }) resource: string | null;
  @Column('varchar') outcome: string;
  @Column('jsonb') details: Record<string, unknown>;
  @Column('char', { name: 'prev_hash' }) prevHash: string;
  @Column('char') hash: string;
}
