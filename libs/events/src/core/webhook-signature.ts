import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook bodies are signed like GitHub's and Stripe's: `X-Fleetguard-Signature: t=<unix>,v1=<hex>`
 * where v1 = HMAC-SHA256(secret, `${t}.${body}`). The timestamp lets receivers refuse replays.
 */
export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export function verifyWebhookSignature(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  if (Math.abs(now / 1000 - Number(m[1])) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex'), 'hex');
  const given = Buffer.from(m[2], 'hex');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
