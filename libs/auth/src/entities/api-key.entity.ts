import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { Role } from '../core/api-key';

@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryColumn('varchar') id: string;
  @Column('uuid', { name: 'organization_id' }) organizationId: string;
  @Column('text', { array: true }) roles: Role[];
  @Column('char', { name: 'secret_hash' }) secretHash: string;
  @Column('varchar', { nullable: true }) label: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}
