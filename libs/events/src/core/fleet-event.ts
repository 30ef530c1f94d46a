/**
 * Every event one module hands to another, by name, with its payload: the one map the event bus
 * (`event-bus.ts`) is typed by. Publishers and subscribers name the event and the compiler checks
 * the payload on both sides.
 *
 * Two kinds:
 * - operator events (`OperatorEvents`, listed in FLEET_EVENT_TYPES): besides in-process subscribers,
 *   they go to the dashboard's event stream and to webhooks, as a `FleetEvent` envelope whose
 *   `data` is the payload's `data`, verbatim;
 * - internal events (`InternalEvents`): between modules of one process only (never shown to an
 *   organization).
 */

/** An EAR status (draft-ietf-rats-ear `ear.status`), as attestation publishes it. */
export type EarStatus = 'affirming' | 'warning' | 'contraindicated' | 'none';

/** Levels per foundational requirement (`FR1`..`FR7`), as hardening scores them. */
export type SecurityLevels = Readonly<Partial<Record<string, number>>>;

/** What an operator event says, about which device, to whom. */
export interface OperatorEvent<D> {
  deviceId?: string;
  /** Organizations that may see it (the device's manufacturer and operator); empty entries are dropped. */
  audience: ReadonlyArray<string | null | undefined>;
  data: D;
}

/** `attestation.result` (every current result) and `attestation.failed` (warning or contraindicated). */
export interface AttestationResultData {
  status: EarStatus;
  reasons: string[];
  resultId: string;
  /** When the result was committed (ISO 8601). */
  at: string;
}

export interface AttestationStaleData {
  status: 'stale';
  /** The last affirming result (ISO 8601), null if the device never affirmed. */
  lastAffirmedAt: string | null;
}

export interface DeviceEnrolledData {
  status: 'active';
  productId: string;
  /** The device certificate's serial (hex) and end of validity (ISO 8601). */
  serial: string;
  notAfter: string;
  /** POST /enroll or EST simpleenroll. */
  channel: 'enroll' | 'est';
}

export interface DeviceRevokedData {
  status: 'revoked';
  /** RFC 5280 revocation reason. */
  reason: string;
  revokedSerials: string[];
}

export interface ScoreChangedData {
  evidenced: SecurityLevels;
  declared: SecurityLevels;
  belowTarget: boolean;
  target: SecurityLevels;
  previous: { evidenced: SecurityLevels | null; declared: SecurityLevels | null; belowTarget: boolean | null };
  /** Why the device was scored (report, attestation, attestation-stale, ...). */
  cause: string;
}

export interface ScoreBelowTargetData {
  evidenced: SecurityLevels;
  target: SecurityLevels;
  /** The requirements below target. */
  below: string[];
  cause: string;
}

export interface DeviceExposedData {
  advisoryId: string;
  trackingId?: string;
  attestedVersion: string;
  productId: string;
  maxCvss: number | null;
  severity: string;
}

export interface DeviceUnsupportedData {
  productId: string;
  /** End of security support (ISO 8601 date). */
  endOfSecuritySupport: string;
}

/** A certificate audit finding (GET /api/v1/pki/audit). */
export interface PkiFindingData {
  kind: string;
  severity: 'high' | 'medium' | 'low';
  detail: string;
  deviceId?: string;
  deviceIds?: string[];
  serial?: string;
  caGeneration?: number;
  at?: string;
}

/** What the service tells operators about (webhooks, the dashboard's event stream). */
export interface OperatorEvents {
  'attestation.result': OperatorEvent<AttestationResultData>;
  'attestation.failed': OperatorEvent<AttestationResultData>;
  'attestation.stale': OperatorEvent<AttestationStaleData>;
  'device.enrolled': OperatorEvent<DeviceEnrolledData>;
  'device.revoked': OperatorEvent<DeviceRevokedData>;
  'score.changed': OperatorEvent<ScoreChangedData>;
  'score.below-target': OperatorEvent<ScoreBelowTargetData>;
  'device.exposed': OperatorEvent<DeviceExposedData>;
  'device.unsupported': OperatorEvent<DeviceUnsupportedData>;
  /** A new certificate audit finding about a device. */
  'pki.finding': OperatorEvent<PkiFindingData>;
}

/** A certificate this process now knows revoked: revoked here, or by another instance (cluster bus, database poll). */
export interface CertificateRevoked {
  deviceId: string;
  /** Serial (lowercase hex). */
  serial: string;
}

/** Between modules of one process, never shown to an organization. */
export interface InternalEvents {
  'certificate.revoked': CertificateRevoked;
}

/** Every cross-module event: name -> payload. */
export interface FleetEvents extends OperatorEvents, InternalEvents {}

export type FleetEventName = keyof FleetEvents;
export type FleetEventType = keyof OperatorEvents;

/** The operator events, at run time (each once; the compiler checks the list is complete). */
export const FLEET_EVENT_TYPES = [
  'attestation.result',
  'attestation.failed',
  'attestation.stale',
  'device.enrolled',
  'device.revoked',
  'score.changed',
  'score.below-target',
  'device.exposed',
  'device.unsupported',
  'pki.finding',
] as const satisfies readonly FleetEventType[];
// A type missing from the list fails here.
const _complete: Exclude<FleetEventType, (typeof FLEET_EVENT_TYPES)[number]> extends never ? true : never = true;
void _complete;

const OPERATOR_EVENTS: ReadonlySet<string> = new Set(FLEET_EVENT_TYPES);

export function isOperatorEvent(name: FleetEventName): name is FleetEventType {
  return OPERATOR_EVENTS.has(name);
}

/** An operator event as the stream and the webhooks carry it. */
export type FleetEvent<K extends FleetEventType = FleetEventType> = {
  [T in K]: {
    id: string;
    type: T;
    at: string;
    deviceId?: string;
    /** Organizations that may see it: the device's manufacturer and operator. */
    audience: string[];
    data: OperatorEvents[T]['data'];
  };
}[K];
