// Core (no Nest, no TypeORM).
export * from './core/digest';
export * from './core/nonce';
export * from './core/event-log.replay';
export * from './core/public-key';
export * from './core/tpm-attest.parser';
export * from './core/tpm-quote.verifier';
export * from './core/eat-evidence.parser';
export * from './core/trust-vector';
export * from './core/appraisal.pipeline';
export * from './core/ear.builder';
// Helpers for the device simulator and tests.
export * from './core/testing/evidence.factory';
export * from './core/testing/tpm-quote.factory';
export * from './core/testing/swtpm.driver';
export * from './core/testing/appraisal.fixture';
// Nest layer.
export * from './entities/attestation-result.entity';
export * from './nest/attestation.service';
export * from './nest/attested-release.reader';
export * from './attestation.module';
