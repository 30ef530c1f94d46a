// @fleetguard/attestation/testing: a device with in-memory appraisal ports, for tests and benchmarks of the core.
export * from '../core/testing/appraisal.fixture';
