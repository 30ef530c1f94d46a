import 'reflect-metadata';
import { ConfigError, parseConfig, redactConfig } from '@fleetguard/common';
import { createRootLogger } from '@fleetguard/platform/nest';
import { startService } from './bootstrap';

async function main(): Promise<void> {
  // Files the service writes (embedded database, CA, demo files) are its own: no group or other access.
  process.umask(0o077);
  let config;
  try {
    config = parseConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`fleetguard: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createRootLogger(config.logLevel);
  logger.info({ config: redactConfig(config) }, 'starting');
  const service = await startService(config, logger);
  // One plain line per listener, for people and for scripts that start the service on port 0.
  for (const [name, url] of Object.entries(service.urls)) process.stderr.write(`fleetguard ${name} listening ${url}\n`);
  const stop = async (signal: string) => {
    logger.info(`${signal}: shutting down`);
    await service.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`fleetguard: failed to start: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
