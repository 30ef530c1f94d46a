// @fleetguard/device-kit: the device side of the protocol, for the device simulator, the benches
// and the tests, without loading any of the service's modules: evidence (EAT/JWS), TPM quotes and
// an swtpm driver, Linux TCG logs and IMA lists, PSA tokens (our encoder and an independent one:
// Debian's python3-cbor2 with openssl), hardening reports and the real event logs of ../shared/data.
// The topic scheme it publishes and subscribes on is the kernel's (@fleetguard/common). It builds
// on the attestation and hardening cores only (lint keeps it off every Nest layer).
export * from './evidence.factory';
export * from './tpm-quote.factory';
export * from './swtpm.driver';
export * from './linux-evidence.factory';
export * from './event-logs';
export * from './psa-token.factory';
export * from './hardening-report.factory';
export * from './hardening-report.presets';
export * from './sample-boot';
