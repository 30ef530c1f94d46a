import { DynamicModule, Global, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { buildDataSourceOptions, isEmbedded, runMigrations } from './data-source.factory';
import { acquireEmbeddedLock } from './embedded.lock';

let releaseLock: (() => void) | undefined;

@Global()
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  static forRoot(): DynamicModule {
    return {
      module: PersistenceModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => {
            if (isEmbedded(config)) releaseLock = acquireEmbeddedLock(config.dataDir);
            return {
              ...buildDataSourceOptions({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }),
              autoLoadEntities: true,
              retryAttempts: 0,
            };
          },
          dataSourceFactory: async (options) => {
            const embedded = !(options as { url?: string }).url;
            const ds = new DataSource(options!);
            await ds.initialize();
            const applied = await runMigrations(ds);
            new Logger('Persistence').log(
              `${embedded ? 'embedded PGlite' : 'PostgreSQL'} ready; ${applied.length ? `applied migrations: ${applied.join(', ')}` : 'schema up to date'}`,
            );
            return ds;
          },
        }),
      ],
      exports: [TypeOrmModule],
    };
  }

  onApplicationShutdown(): void {
    releaseLock?.();
    releaseLock = undefined;
  }
}
