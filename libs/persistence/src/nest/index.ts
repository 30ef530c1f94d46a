// @fleetguard/persistence/nest: the TypeORM data source (PostgreSQL or PGlite), migrations, the Nest module.
export * from './data-source.factory';
export * from './persistence.module';
