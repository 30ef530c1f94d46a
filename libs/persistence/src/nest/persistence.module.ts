import { DynamicModule, Global, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { buildDataSourceOptions, connectWithBackoff, isEmbedded, openEmbedded, runMigrations } from './data-source.factory';
import { acquireEmbeddedLock } from '../core/embedded.lock';
import { privateDirectory } from '../core/private-directory';
import * as path from 'node:path';

let releaseLock: (() => void) | undefined;
let embeddedDir: string | undefined;

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
            embeddedDir = undefined;
            if (isEmbedded(config)) {
              releaseLock = acquireEmbeddedLock(config.dataDir);
              embeddedDir = config.dataDir;
            }
            return {
              ...buildDataSourceOptions({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }),
              autoLoadEntities: true,
              retryAttempts: 0,
            };
          },
          dataSourceFactory: async (options) => {
            const embedded = !(options as { url?: string }).url;
            const logger = new Logger('Persistence');
            const ds = embedded
              ? await openEmbedded(options!, embeddedDir)
              : await connectWithBackoff(() => new DataSource(options!), (attempt, delayMs, e) =>
                  logger.warn(`PostgreSQL not reachable (attempt ${attempt}: ${(e as Error).message}); trying again in ${Math.round(delayMs / 1000)} s`),
                );
            const applied = await runMigrations(ds);
            // PGlite creates its files 0666 whatever the umask: tighten what the first open made.
            if (embeddedDir) privateDirectory(path.join(embeddedDir, 'pglite'), true);
            logger.log(
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
