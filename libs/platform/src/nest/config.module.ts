import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from './app-config.token';
import { ClusterBus } from './cluster.bus';

export { APP_CONFIG };

/** Provides the configuration parsed once at boot (main.ts), and the bus between instances, to every module. */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: AppConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }, ClusterBus], exports: [APP_CONFIG, ClusterBus] };
  }
}
