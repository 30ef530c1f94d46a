// @fleetguard/platform/nest: configuration provider, cluster bus, error mapping, logging, listener guard.
export * from './config.module';
export * from './cluster.bus';
export * from './http-exception.filter';
export * from './pino.logger';
export * from './listener';
