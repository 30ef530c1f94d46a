/**
 * Core-only entry (no Nest, no TypeORM): `@fleetguard/attestation-core`, for fleetctl and the
 * benchmarks. The Linux-device formats; the rest of the core stays behind @fleetguard/attestation.
 */
export * from './tcg-event.decoders';
export * from './tcg-event-log.parser';
export * from './tcg-event-log.writer';
export * from './measured-boot.policy';
export * from './ima-measurement-list.parser';
export * from './ima-runtime.policy';
export * from './testing/event-logs';
