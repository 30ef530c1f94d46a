// Core (no Nest, no TypeORM); also importable alone as @fleetguard/firmware-core.
export * from './core';
// Nest layer: signing keys, releases, reference values.
export * from './entities/signing-key.entity';
export * from './entities/firmware-release.entity';
export * from './nest/firmware.service';
export * from './firmware.module';
