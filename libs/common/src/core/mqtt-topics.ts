/**
 * The MQTT topic scheme of SPEC.md "MQTT topics", both halves: `fleet/v1/devices/<id>/<kind>`,
 * where a device publishes `evidence`, `hardening` and `status` and subscribes to `challenge`,
 * `result` and `pki`. The broker's ACL (libs/broker) and the simulated devices (apps/device-sim)
 * both build and parse topics with these.
 */
export const TOPIC_PREFIX = 'fleet/v1/devices/';

export const DEVICE_PUBLISHES = ['evidence', 'hardening', 'status'] as const;
/** `pki`: service → device, e.g. `{action: 'reenroll', newKeyRequired: true, ...}` (a forced re-key). */
export const DEVICE_SUBSCRIBES = ['challenge', 'result', 'pki'] as const;
export type InboundKind = (typeof DEVICE_PUBLISHES)[number];
export type OutboundKind = (typeof DEVICE_SUBSCRIBES)[number];
export type DeviceTopicKind = InboundKind | OutboundKind;

export function deviceTopic(deviceId: string, kind: DeviceTopicKind): string {
  return `${TOPIC_PREFIX}${deviceId}/${kind}`;
}

/** `<prefix><id>/<kind>` split, or null for anything else (no kind check: the ACL does that). */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: string } | null {
  if (!topic.startsWith(TOPIC_PREFIX)) return null;
  const rest = topic.slice(TOPIC_PREFIX.length).split('/');
  if (rest.length !== 2 || !rest[0] || !rest[1]) return null;
  return { deviceId: rest[0], kind: rest[1] };
}
