export * from './core/api-key';
export * from './core/audit-chain';
export * from './nest/principal';
export * from './nest/auth.service';
export * from './nest/audit.service';
export * from './auth.module';
