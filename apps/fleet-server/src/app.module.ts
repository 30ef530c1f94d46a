import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '@fleetguard/common';
import { AppConfigModule, ListenerGuard } from '@fleetguard/platform';
import { PersistenceModule } from '@fleetguard/persistence';
import { AuthModule } from '@fleetguard/auth';
import { PkiModule } from '@fleetguard/pki';
import { EXPOSED_DEVICES_FILTER, FleetModule } from '@fleetguard/fleet';
import { FirmwareModule } from '@fleetguard/firmware';
import { BrokerModule } from '@fleetguard/broker';
import { EventsModule } from '@fleetguard/events';
import { AttestationModule, AttestedReleaseReader } from '@fleetguard/attestation';
import { HardeningModule } from '@fleetguard/hardening';
import { LifecycleModule, LifecycleRepository } from '@fleetguard/lifecycle';
import { DashboardController } from './dashboard.controller';
import { HealthController } from './health.controller';

/** Ports between libs, bound here: the fleet's device list filters on the lifecycle's exposure. */
@Global()
@Module({ providers: [{ provide: EXPOSED_DEVICES_FILTER, useValue: { exposedDeviceIdsSql: LifecycleRepository.EXPOSED_DEVICE_IDS_SQL } }], exports: [EXPOSED_DEVICES_FILTER] })
class PortsModule {}

/** Composition root: wires the modules of the libs; holds no rules of its own. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(config), PersistenceModule.forRoot(), AuthModule, PkiModule, EventsModule, BrokerModule, FleetModule, FirmwareModule, AttestationModule, HardeningModule, PortsModule,
        LifecycleModule.register({ imports: [AttestationModule], attestedReleases: AttestedReleaseReader })],
      controllers: [HealthController, DashboardController],
      providers: [{ provide: APP_GUARD, useClass: ListenerGuard }],
    };
  }
}
