/** The Nest-free core of the firmware lib: image formats, signature checks, anti-rollback rules. */
export * from './firmware.errors';
export * from './firmware.verdict';
export * from './signing-key';
export * from './byte-stream.reader';
export * from './mcuboot-image.format';
export * from './mcuboot-image.parser';
export * from './mcuboot-image.verifier';
export * from './mcuboot-image.builder';
export * from './firmware-manifest.schema';
export * from './firmware-manifest.verifier';
export * from './firmware-manifest.signer';
export * from './anti-rollback.rules';
export * from './release.policy';
export * from './intel-hex.reader';
