// Core (no Nest, no TypeORM): image formats, signature checks, anti-rollback rules.
export * from './core/firmware.errors';
export * from './core/firmware.verdict';
export * from './core/signing-key';
export * from './core/byte-stream.reader';
export * from './core/mcuboot-image.format';
export * from './core/mcuboot-image.parser';
export * from './core/mcuboot-image.verifier';
export * from './core/mcuboot-image.builder';
export * from './core/firmware-manifest.schema';
export * from './core/firmware-manifest.verifier';
export * from './core/firmware-manifest.signer';
export * from './core/anti-rollback.rules';

// Nest layer: signing keys, releases, reference values.
export * from './entities/signing-key.entity';
export * from './entities/firmware-release.entity';
export * from './nest/firmware.service';
export * from './firmware.module';
