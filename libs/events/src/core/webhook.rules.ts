import { invalid } from '@fleetguard/common';

/** What a webhook can subscribe to. Delivery signs each body with HMAC-SHA256 under the secret. */
export const WEBHOOK_EVENTS = ['attestation.failed', 'attestation.stale', 'device.revoked', 'score.below-target', 'device.exposed', 'device.unsupported', 'pki.finding'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_SECRET_MIN = 16;
export const WEBHOOK_SECRET_MAX = 200;
export const WEBHOOK_URL_MAX = 2000;
/** Subscriptions per organization. */
export const WEBHOOKS_PER_ORGANIZATION = 50;

export interface WebhookInput {
  url: string;
  secret: string;
  events: string[];
}

export interface CheckedWebhook {
  url: string;
  secret: string;
  events: WebhookEvent[];
}

/**
 * Checks a subscription: an absolute http(s) URL without credentials in it (the URL is shown back
 * in lists; the secret is the credential and is never shown), a secret long enough to key an HMAC,
 * and one or more known events (each once).
 */
export function checkWebhook(input: WebhookInput): CheckedWebhook {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw invalid('webhook.bad-url', 'url must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('webhook.bad-url', `url must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username || url.password) throw invalid('webhook.bad-url', 'url must not hold credentials; the secret signs every delivery');
  if (input.url.length > WEBHOOK_URL_MAX) throw invalid('webhook.bad-url', `url is longer than ${WEBHOOK_URL_MAX} characters`);
  if (input.secret.length < WEBHOOK_SECRET_MIN || input.secret.length > WEBHOOK_SECRET_MAX) {
    throw invalid('webhook.bad-secret', `secret must be ${WEBHOOK_SECRET_MIN}..${WEBHOOK_SECRET_MAX} characters`);
  }
  if (!input.events.length) throw invalid('webhook.no-events', `events must name at least one of: ${WEBHOOK_EVENTS.join(', ')}`);
  const unknown = input.events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw invalid('webhook.unknown-event', `unknown event(s) ${unknown.join(', ')}; known: ${WEBHOOK_EVENTS.join(', ')}`);
  return { url: input.url, secret: input.secret, events: [...new Set(input.events)] as WebhookEvent[] };
}

/** States of one delivery in the outbox: waiting (or being attempted), done, given up. */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
