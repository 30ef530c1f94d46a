// @fleetguard/zones: zone and assessment rules (no Nest, no TypeORM). The Nest layer is @fleetguard/zones/nest.
export * from './core';
