export * from './core';
export * from './nest/zones.repository';
export * from './nest/zones.service';
export * from './zones.module';
