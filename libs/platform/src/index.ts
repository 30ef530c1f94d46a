// The service's Nest-side plumbing shared by the modules: configuration provider, error mapping,
// logging and metrics.
export * from './config.module';
export * from './cluster.bus';
export * from './http-exception.filter';
export * from './pino.logger';
export * from './metrics';
export * from './listener';
export * from './request-body';
export * from './fd-watch';
export * from './repeat-limiter';
export * from './slow-clients';
