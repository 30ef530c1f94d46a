// @fleetguard/lifecycle/testing: helpers for tests (product code never imports this entry).
export * from '../core/testing/sbom.samples';
export * from '../core/testing/csaf.samples';
