// Core (no Nest, no TypeORM).
export * from './core/component';
export * from './core/sbom.parser';
export * from './core/product-matcher';
export * from './core/csaf.advisory';
export * from './core/vex.parser';
export * from './core/exposure.rules';
export * from './core/product-lifecycle.rules';
export * from './core/attested-release.port';
// Nest layer.
export * from './nest/lifecycle.service';
export * from './lifecycle.module';
export * from './nest/lifecycle.repository';
export * from './nest/lifecycle-facts.reader';
// Test helpers (documents from real producers and the specifications).
export * from './core/testing/sbom.samples';
export * from './core/testing/csaf.samples';
