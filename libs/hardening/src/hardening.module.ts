import { Logger, Module } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { FleetModule } from '@fleetguard/fleet/nest';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { DeviceScoreEntity } from './entities/device-score.entity';
import { HardeningReportEntity } from './entities/hardening-report.entity';
import { DeviceHardeningController } from './nest/device-hardening.controller';
import { HardeningController } from './nest/hardening.controller';
import { HardeningRepository } from './nest/hardening.repository';
import { HardeningService } from './nest/hardening.service';
import { ScorerCache } from './nest/scorer.cache';

/**
 * Hardening reports (device HTTP API and MQTT), SL-C scores, gaps and the catalog. Uses the global
 * broker and event bus, and the fleet's DevicesService (tenant checks).
 */
@Module({
  imports: [TypeOrmModule.forFeature([HardeningReportEntity, DeviceScoreEntity]), FleetModule],
  controllers: [HardeningController, DeviceHardeningController],
  providers: [
    { provide: HardeningRepository, useFactory: (ds: DataSource) => new HardeningRepository(ds), inject: [getDataSourceToken()] },
    {
      provide: ScorerCache,
      useFactory: (config: AppConfig) =>
        new ScorerCache(undefined, undefined, (m) => new Logger('Hardening').warn(m), { maxReportAgeSeconds: config.maxReportAgeSeconds }),
      inject: [APP_CONFIG],
    },
    HardeningService,
  ],
  exports: [HardeningService],
})
export class HardeningModule {}
