// @fleetguard/attestation: the appraisal core (no Nest, no TypeORM). The Nest layer is
// @fleetguard/attestation/nest; device-side factories (evidence, quotes, swtpm) are @fleetguard/device-kit.
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
export * from './core/jws.compact';
export * from './core/corim.parser';
