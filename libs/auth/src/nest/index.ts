// @fleetguard/auth/nest: principals, the auth and audit services, the module.
export * from './principal';
export * from './auth.service';
export * from './audit.service';
export * from '../auth.module';
