/** What the service tells operators about (webhooks, the dashboard's event stream). */
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
  /** A new certificate audit finding about a device (GET /api/v1/pki/audit). */
  'pki.finding',
] as const;
export type FleetEventType = (typeof FLEET_EVENT_TYPES)[number];

export interface FleetEvent {
  id: string;
  type: FleetEventType;
  at: string;
  deviceId?: string;
  /** Organizations that may see it: the device's manufacturer and operator. */
  audience: string[];
  data: Record<string, unknown>;
}
