// @fleetguard/persistence: what loads neither Nest nor TypeORM (the embedded database's lock and
// private directory, RETURNING-row helpers, scratch PostgreSQL databases). The data source,
// migrations runner and Nest module are @fleetguard/persistence/nest.
export * from './core/embedded.lock';
export * from './core/returning-rows';
export * from './core/scratch-database';
export * from './core/private-directory';
export * from './core/named-statement';
