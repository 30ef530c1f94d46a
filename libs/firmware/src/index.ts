// @fleetguard/firmware: MCUboot and manifest verification, release rules (no Nest, no TypeORM).
// The Nest layer is @fleetguard/firmware/nest; test samples are @fleetguard/firmware/testing.
export * from './core';
