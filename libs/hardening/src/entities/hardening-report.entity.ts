import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { HardeningReport } from '../core';

/** A hardening report as a device sent it (validated), one row per report received. */
@Entity('hardening_reports')
export class HardeningReportEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { name: 'device_id' }) deviceId: string;
  @Column('jsonb') report: HardeningReport;
  @Column('varchar') channel: 'mqtt' | 'http';
  @Column('timestamptz', { name: 'received_at' }) receivedAt: Date;
}
