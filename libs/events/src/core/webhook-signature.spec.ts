import { signWebhook, verifyWebhookSignature } from './webhook-signature';

describe('webhook signatures', () => {
  it('verifies its own signature and refuses a changed body, another secret or an old timestamp', () => {
    const now = Date.now();
    const header = signWebhook('s3cret', '{"a":1}', Math.floor(now / 1000));
    expect(verifyWebhookSignature('s3cret', '{"a":1}', header, 300, now)).toBe(true);
    expect(verifyWebhookSignature('s3cret', '{"a":2}', header, 300, now)).toBe(false);
    expect(verifyWebhookSignature('other', '{"a":1}', header, 300, now)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '{"a":1}', header, 300, now + 3600_000)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '{"a":1}', 'garbage', 300, now)).toBe(false);
  });
});
