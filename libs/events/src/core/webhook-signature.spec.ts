import { retryDelaysMs, signWebhook, verifyWebhookSignature } from './webhook-signature';

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
  it('backs off exponentially with a cap', () => {
    const d = retryDelaysMs(8, 1000, 10_000, () => 0.5);
    expect(d.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(Math.max(...d)).toBe(10_000);
  });
});
