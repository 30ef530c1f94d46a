// @fleetguard/auth: API keys and the hash-chained audit rule (no Nest, no TypeORM). The Nest layer is @fleetguard/auth/nest.
export * from './core/api-key';
export * from './core/audit-chain';
