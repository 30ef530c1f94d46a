import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '@fleetguard/common';
import { AppConfigModule, ListenerGuard } from '@fleetguard/platform/nest';
import { PersistenceModule } from '@fleetguard/persistence/nest';
import { AuthModule } from '@fleetguard/auth/nest';
import { PkiModule } from '@fleetguard/pki/nest';
import { FleetModule } from '@fleetguard/fleet/nest';
import { FirmwareModule } from '@fleetguard/firmware/nest';
import { BrokerModule } from '@fleetguard/broker/nest';
import { EventsModule } from '@fleetguard/events/nest';
import { AttestationModule, AttestedReleaseReader } from '@fleetguard/attestation/nest';
import { HardeningModule } from '@fleetguard/hardening/nest';
import { ZonesModule } from '@fleetguard/zones/nest';
import { LifecycleModule } from '@fleetguard/lifecycle/nest';
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
