// @fleetguard/lifecycle/nest: the lifecycle service, repository, facts reader and module.
export * from './lifecycle.service';
export * from '../lifecycle.module';
export * from './lifecycle.repository';
export * from './lifecycle-facts.reader';
