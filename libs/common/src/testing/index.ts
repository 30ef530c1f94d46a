// Test helpers of the common kernel (entry point @fleetguard/common/testing; never imported by product code).
export * from './expect-domain-error';
