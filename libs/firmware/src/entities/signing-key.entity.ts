import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('signing_keys')
export class SigningKeyEntity {
  @PrimaryColumn('uuid', { name: 'product_id' }) productId: string;
  @PrimaryColumn('char', { name: 'key_id' }) keyId: string;
  @Column('varchar') algorithm: string;
  @Column('text', { name: 'public_key_pem' }) publicKeyPem: string;
  @Column('varchar') status: 'active' | 'revoked';
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}
