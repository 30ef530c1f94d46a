// @fleetguard/lifecycle: SBOM, CSAF and VEX parsing, exposure and lifecycle rules (no Nest, no
// TypeORM). The Nest layer is @fleetguard/lifecycle/nest; samples are @fleetguard/lifecycle/testing.
export * from './core/component';
export * from './core/sbom.parser';
export * from './core/product-matcher';
export * from './core/csaf.advisory';
export * from './core/vex.parser';
export * from './core/exposure.rules';
export * from './core/product-lifecycle.rules';
export * from './core/attested-release.port';
