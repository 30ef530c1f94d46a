// @fleetguard/zones/nest: the zones repository, service and module.
export * from './zones.repository';
export * from './zones.service';
export * from '../zones.module';
