// @fleetguard/hardening: the 62443-4-2 catalog, rules, grades and SL-C scoring (no Nest, no
// TypeORM). The Nest layer is @fleetguard/hardening/nest.
export * from './core';
