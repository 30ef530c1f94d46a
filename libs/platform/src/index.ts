// @fleetguard/platform: the service's plumbing that loads neither Nest nor TypeORM (metrics,
// file-descriptor watch, repeated-log limiter, request-body limits, slow-client limits, listen).
// The Nest side (configuration provider, cluster bus, error filter, logger, listener guard) is
// @fleetguard/platform/nest.
export * from './core/metrics';
export * from './core/fd-watch';
export * from './core/repeat-limiter';
export * from './core/request-body';
export * from './core/slow-clients';
export * from './core/listen';
