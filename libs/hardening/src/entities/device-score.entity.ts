import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { SlVector } from '../core';
import type { StoredScoreSummary } from '../nest/scoring-inputs';

/**
 * One entry of a device's score history. `items` holds the summary of the item statuses (counts,
 * versions, attestation status used), not every item's reason: those are recomputed on read from
 * the stored report, and a fleet-wide rescore does not pay for them.
 */
@Entity('device_scores')
export class DeviceScoreEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { name: 'device_id' }) deviceId: string;
  @Column('jsonb') evidenced: SlVector;
  @Column('jsonb') declared: SlVector;
  @Column('jsonb') items: StoredScoreSummary;
  @Column('boolean', { name: 'below_target' }) belowTarget: boolean;
  @Column('varchar') cause: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
}
