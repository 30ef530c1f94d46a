// @fleetguard/fleet/nest: products, devices, enrollment, fleet queries, the module.
export * from '../entities/product.entity';
export * from '../entities/device.entity';
export * from '../entities/enrollment-token.entity';
export * from './products.service';
export * from './devices.service';
export * from './device-levels.statement';
export * from './device-attestation.statement';
export * from './device-directory.reader';
export * from './enrollment.service';
export { enrollmentFastRoute } from './enrollment.fast-route';
export * from './fleet-query.service';
export * from './pki-admin.service';
export { toDeviceView, checkDeviceId } from './devices.controller';
export * from '../fleet.module';
