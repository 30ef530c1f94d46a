/**
 * Topic rules of SPEC.md "MQTT topics": a device publishes and subscribes only under its own id,
 * and only to the topics of its direction. No wildcards for devices. The scheme itself (prefix,
 * kinds, building and parsing a topic) is the kernel's, @fleetguard/common mqtt-topics.ts.
 */
import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, TOPIC_PREFIX, parseDeviceTopic } from '@fleetguard/common';

export type AclVerdict = { ok: true; kind: string } | { ok: false; reason: string };

export function checkPublish(clientId: string, topic: string): AclVerdict {
  const t = parseDeviceTopic(topic);
  if (!t) return { ok: false, reason: `topic '${topic.slice(0, 200)}' is outside ${TOPIC_PREFIX}<id>/<kind>` };
  if (t.deviceId !== clientId) return { ok: false, reason: `device ${clientId} may not publish under another device's id (${t.deviceId})` };
  if (!(DEVICE_PUBLISHES as readonly string[]).includes(t.kind)) return { ok: false, reason: `devices may not publish to '${t.kind}' (allowed: ${DEVICE_PUBLISHES.join(', ')})` };
  return { ok: true, kind: t.kind };
}

export function checkSubscribe(clientId: string, topic: string): AclVerdict {
  if (/[+#]/.test(topic)) return { ok: false, reason: `wildcard subscriptions are not allowed for devices ('${topic.slice(0, 200)}')` };
  const t = parseDeviceTopic(topic);
  if (!t) return { ok: false, reason: `topic '${topic.slice(0, 200)}' is outside ${TOPIC_PREFIX}<id>/<kind>` };
  if (t.deviceId !== clientId) return { ok: false, reason: `device ${clientId} may not subscribe to another device's topics (${t.deviceId})` };
  if (!(DEVICE_SUBSCRIBES as readonly string[]).includes(t.kind)) return { ok: false, reason: `devices may not subscribe to '${t.kind}' (allowed: ${DEVICE_SUBSCRIBES.join(', ')})` };
  return { ok: true, kind: t.kind };
}
