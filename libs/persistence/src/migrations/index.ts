import { Foundation1764090000000 } from './1764090000000-foundation';
import { DevicesAndPki1764090100000 } from './1764090100000-devices-and-pki';
import { FirmwareAttestationScoring1764090200000 } from './1764090200000-firmware-attestation-scoring';
import { SecurityHardening1764100110000 } from './1764100110000-security-hardening';
import { LinuxMeasuredBootIma1764100140000 } from './1764100140000-linux-measured-boot-ima';
import { PsaAttestation1764100150000 } from './1764100150000-psa-attestation';
import { EvidenceZonesAssessments1764100160000 } from './1764100160000-evidence-zones-assessments';
import { Lifecycle1764100190000 } from './1764100190000-lifecycle';
import { AppraisalLeases1764200100000 } from './1764200100000-appraisal-leases';
import { EnrollmentGrants1764200110000 } from './1764200110000-enrollment-grants';
import { WebhookOutbox1764200120000 } from './1764200120000-webhook-outbox';
import { DeviceUeid1764200130000 } from './1764200130000-device-ueid';
import { FleetCoordination1764200170000 } from './1764200170000-fleet-coordination';
import { CaRolloverRekey1764200180000 } from './1764200180000-ca-rollover-rekey';
import { InboxRetention1764300100000 } from './1764300100000-inbox-retention';
import { PublishedViews1764300200000 } from './1764300200000-published-views';
import { HotPathStorage1764420000000 } from './1764420000000-hot-path-storage';
import { CaGenerations1764440000000 } from './1764440000000-ca-generations';
import { HotNonceObservationUpdates1764460000000 } from './1764460000000-hot-nonce-observation-updates';

/** Every migration, in order. New ones are appended here (timestamped class names). */
export const ALL_MIGRATIONS = [
  Foundation1764090000000,
  DevicesAndPki1764090100000,
  FirmwareAttestationScoring1764090200000,
  SecurityHardening1764100110000,
  LinuxMeasuredBootIma1764100140000,
  PsaAttestation1764100150000,
  EvidenceZonesAssessments1764100160000,
  Lifecycle1764100190000,
  AppraisalLeases1764200100000,
  EnrollmentGrants1764200110000,
  WebhookOutbox1764200120000,
  DeviceUeid1764200130000,
  FleetCoordination1764200170000,
  CaRolloverRekey1764200180000,
  InboxRetention1764300100000,
  PublishedViews1764300200000,
  HotPathStorage1764420000000,
  CaGenerations1764440000000,
  HotNonceObservationUpdates1764460000000,
];
