// @fleetguard/fleet: product rules, enrollment tokens, cursors, report format, ports (no Nest,
// no TypeORM). The Nest layer is @fleetguard/fleet/nest.
export * from './core/product.rules';
export * from './core/requirement-catalog.port';
export * from './core/enrollment-token';
export * from './core/device-cursor';
export * from './core/fleet-report.format';
export * from './core/exposure-filter.port';
