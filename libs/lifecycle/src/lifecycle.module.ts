import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { FleetModule } from '@fleetguard/fleet/nest';
import { ATTESTED_RELEASES, AttestedReleasePort } from './core/attested-release.port';
import { AdvisoriesController, ProductLifecycleController } from './nest/lifecycle.controller';
import { LifecycleRepository } from './nest/lifecycle.repository';
import { LifecycleService } from './nest/lifecycle.service';

/**
 * SBOMs, advisories, VEX, lifecycle dates and device exposure. The attested-release port comes
 * from the composition root: `LifecycleModule.register({ imports: [AttestationModule],
 * attestedReleases: AttestedReleaseReader })`.
 */
@Module({})
export class LifecycleModule {
  static register(opts: { imports: Array<Type<unknown> | DynamicModule>; attestedReleases: Type<AttestedReleasePort> }): DynamicModule {
    const port: Provider = { provide: ATTESTED_RELEASES, useExisting: opts.attestedReleases };
    return {
      module: LifecycleModule,
      imports: [FleetModule, ...opts.imports],
      controllers: [ProductLifecycleController, AdvisoriesController],
      providers: [{ provide: LifecycleRepository, useFactory: (ds: DataSource) => new LifecycleRepository(ds), inject: [getDataSourceToken()] }, port, LifecycleService],
      exports: [LifecycleService],
    };
  }
}
