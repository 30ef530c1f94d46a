import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { ComponentType } from '@fleetguard/common';
import type { LevelVector } from '../core/product.rules';

/** Security counters are uint32 (bigint columns); numbers in code. */
const securityCounterColumn = { to: (v: number | null) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) };

@Entity('products')
export class ProductEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'organization_id' }) organizationId: string;
  @Column('varchar') name: string;
  @Column('varchar', { name: 'component_type' }) componentType: ComponentType;
  @Column('jsonb', { name: 'declared_requirements' }) declaredRequirements: string[];
  @Column('jsonb', { name: 'target_levels' }) targetLevels: LevelVector;
  @Column('bigint', { transformer: securityCounterColumn, name: 'min_security_counter' }) minSecurityCounter: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
