// Plain values and errors shared by every lib core: no Nest, no TypeORM.
export * from './core/domain-error';
export * from './core/app-config';
export * from './core/rate-limit';
export * from './core/database-unavailable';
export * from './core/encrypted-key.codec';
export * from './core/ueid';
