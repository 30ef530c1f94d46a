/**
 * Everything fleetctl does with @fleetguard/firmware, behind one module that commands load on
 * demand (`await import('../firmware')`): the lib's index carries its Nest layer too, which takes
 * a second or more to load, and commands that never touch an image should not pay for it.
 */
export * from './firmware-keys';
export * from './firmware-sign';
export * from './firmware-verify';
export * from './firmware-inspect';
export { looksLikeIntelHex } from '@fleetguard/firmware';
