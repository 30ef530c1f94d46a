// @fleetguard/firmware/testing: helpers for tests (product code never imports this entry).
export * from '../core/testing/firmware-samples';
export * from '../core/testing/imgtool-images';
export * from '../core/testing/mcuboot-bytes';
