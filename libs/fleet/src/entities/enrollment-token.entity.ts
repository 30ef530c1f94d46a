import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('enrollment_tokens')
export class EnrollmentTokenEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('char', { name: 'token_hash' }) tokenHash: string;
  @Column('uuid', { name: 'product_id' }) productId: string;
  @Column('uuid', { name: 'operator_org_id', nullable: true }) operatorOrgId: string | null;
  /** The operator's enrollment grant that consented to the assignment (null: no operator). */
  @Column('uuid', { name: 'grant_id', nullable: true }) grantId: string | null;
  @Column('varchar', { name: 'created_by', nullable: true }) createdBy: string | null;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt: Date;
  @Column('timestamptz', { name: 'used_at', nullable: true }) usedAt: Date | null;
  @Column('varchar', { name: 'device_id', nullable: true }) deviceId: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
