import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { WebhookEvent } from '../core/webhook.rules';

/** A failure-notification subscription of one organization. The secret keys the HMAC of each delivery. */
@Entity('webhooks')
export class WebhookEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'organization_id' }) organizationId: string;
  @Column('varchar') url: string;
  /** Only in rows written before secrets were sealed; emptied at boot (WebhookSecretsService). */
  @Column('varchar', { nullable: true, select: false }) secret: string | null;
  /** The secret sealed with AES-256-GCM (SecretBox): written once, never returned by the API nor logged. */
  @Column('varchar', { name: 'secret_sealed', nullable: true, select: false }) secretSealed: string | null;
  @Column('jsonb') events: WebhookEvent[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
