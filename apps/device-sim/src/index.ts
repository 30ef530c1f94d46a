/** device-sim as a library: for the demo, the e2e tests (test/) and the load benchmarks (bench/). */
export * from './simulated-device';
export * from './fleet';
export * from './device-profile.schema';
export * from './device-key.generator';
export * from './device-tpm';
export * from './evidence.behaviour';
export { goodHardeningReport, weakHardeningReport } from '@fleetguard/device-kit';
export type { HardeningReportOptions } from '@fleetguard/device-kit';
export * from './ear-result.decoder';
export { DeviceApiClient, DeviceApiError, fetchCaChain } from './device-api.client';
export type { ChallengeResponse, EnrollRequest, EnrollResponse } from './device-api.client';
export * from './linux-device';
export * from './psa-device';
