import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { FleetModule } from '@fleetguard/fleet/nest';
import { HardeningModule } from '@fleetguard/hardening/nest';
import { ZonesController } from './nest/zones.controller';
import { ZonesRepository } from './nest/zones.repository';
import { ZonesService } from './nest/zones.service';

/**
 * Zones (IEC 62443-3-2) of the asset owner and assessment exports. Its own bounded context, apart
 * from the hardening lib: hardening scores components (SL-C) for manufacturers and operators;
 * zones are the operator's, combine devices' scores with countermeasures into SL-A against SL-T,
 * and turn them into documents for assessors. It uses hardening's facade (HardeningService) only.
 */
@Module({
  imports: [FleetModule, HardeningModule],
  controllers: [ZonesController],
  providers: [{ provide: ZonesRepository, useFactory: (ds: DataSource) => new ZonesRepository(ds), inject: [getDataSourceToken()] }, ZonesService],
})
export class ZonesModule {}
