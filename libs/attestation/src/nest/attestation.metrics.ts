import { counter } from '@fleetguard/platform';

/** Instruments more than one attestation part counts into (one definition each). */
export const evidenceRefused = counter('fleetguard_evidence_rejected_total', 'Evidence refused before appraisal, by code', ['code', 'channel']);
export const deviceRateLimited = counter('fleetguard_device_rate_limited_total', 'Device messages refused over the per-device rate, by kind and channel', ['kind', 'channel']);
