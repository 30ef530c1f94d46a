// Plain values and errors shared by every lib core: no Nest, no TypeORM.
export * from './core/domain-error';
export * from './core/app-config';
export * from './core/rate-limit';
export * from './core/database-unavailable';
export * from './core/encrypted-key.codec';
export * from './core/ueid';
// The shared kernel: what the libs, the apps and the dashboard say once.
export * from './core/iec62443.terms';
export * from './core/ear-status';
export * from './core/integrity-status';
export * from './core/device-id';
export * from './core/mqtt-topics';
export * from './core/grouped-call';
export * from './core/worker-lanes';
export * from './core/random-pool';
export * from './core/coalesced-batches';
