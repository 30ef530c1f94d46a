import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@fleetguard/common';
import { AppConfigModule } from '@fleetguard/platform';
import { PersistenceModule } from '@fleetguard/persistence';
import { AuthModule } from '@fleetguard/auth';
import { FleetModule } from '@fleetguard/fleet';
import { FirmwareModule } from '@fleetguard/firmware';
import { HealthController } from './health.controller';

/** Composition root: wires the modules of the libs; holds no rules of its own. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(config), PersistenceModule.forRoot(), AuthModule, FleetModule, FirmwareModule],
      controllers: [HealthController],
    };
  }
}
