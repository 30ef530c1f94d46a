import { Foundation1764090000000 } from './1764090000000-foundation';
import { DevicesAndPki1764090100000 } from './1764090100000-devices-and-pki';
import { FirmwareAttestationScoring1764090200000 } from './1764090200000-firmware-attestation-scoring';
import { SecurityHardening1764100110000 } from './1764100110000-security-hardening';

/** Every migration, in order. New ones are appended here (timestamped class names). */
export const ALL_MIGRATIONS = [Foundation1764090000000, DevicesAndPki1764090100000, FirmwareAttestationScoring1764090200000, SecurityHardening1764100110000];
