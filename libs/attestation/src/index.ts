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
export * from './core/tcg-event.decoders';
export * from './core/tcg-event-log.parser';
export * from './core/tcg-event-log.writer';
export * from './core/measured-boot.policy';
export * from './core/tcg-evidence.appraisal';
export * from './core/linux-evidence.appraisal';
export * from './core/linux-evidence.view';
export * from './core/ima-measurement-list.parser';
export * from './core/ima-runtime.policy';
export * from './core/cbor.codec';
export * from './core/cose-sign1.verifier';
export * from './core/psa-token.parser';
export * from './core/psa-token.appraisal';
export * from './core/corim.parser';
// Helpers for the device simulator and tests.
export * from './core/testing/evidence.factory';
export * from './core/testing/tpm-quote.factory';
export * from './core/testing/swtpm.driver';
export * from './core/testing/appraisal.fixture';
export * from './core/testing/linux-evidence.factory';
export * from './core/testing/event-logs';
export * from './core/testing/psa-token.factory';
// Nest layer.
export * from './entities/attestation-result.entity';
export * from './nest/attestation.service';
export * from './nest/attested-release.reader';
export * from './attestation.module';
