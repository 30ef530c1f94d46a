import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '@fleetguard/common';
import { AppConfigModule, ListenerGuard } from '@fleetguard/platform';
import { PersistenceModule } from '@fleetguard/persistence';
import { AuthModule } from '@fleetguard/auth';
import { PkiModule } from '@fleetguard/pki';
import { FleetModule } from '@fleetguard/fleet';
import { FirmwareModule } from '@fleetguard/firmware';
import { BrokerModule } from '@fleetguard/broker';
import { EventsModule } from '@fleetguard/events';
import { AttestationModule, AttestedReleaseReader } from '@fleetguard/attestation';
import { HardeningModule } from '@fleetguard/hardening';
import { ZonesModule } from '@fleetguard/zones';
import { LifecycleModule } from '@fleetguard/lifecycle';
import { DashboardController } from './dashboard.controller';
import { HealthController } from './health.controller';
import { PortsModule } from './ports.module';

/** Composition root: wires the modules of the libs; holds no rules of its own. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(config), PortsModule, PersistenceModule.forRoot(), AuthModule, PkiModule, EventsModule, BrokerModule, FleetModule, FirmwareModule, AttestationModule, HardeningModule, ZonesModule,
        LifecycleModule.register({ imports: [AttestationModule], attestedReleases: AttestedReleaseReader })],
      controllers: [HealthController, DashboardController],
      providers: [{ provide: APP_GUARD, useClass: ListenerGuard }],
    };
  }
}
