// @fleetguard/firmware/nest: signing keys, releases, the firmware service and module.
export * from '../entities/signing-key.entity';
export * from '../entities/firmware-release.entity';
export * from './firmware.service';
export * from '../firmware.module';
