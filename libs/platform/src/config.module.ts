import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from '@fleetguard/common';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Provides the configuration parsed once at boot (main.ts) to every module. */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: AppConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
