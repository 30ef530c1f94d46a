import { DomainError } from '@fleetguard/common';
import { checkWebhook } from './webhook.rules';

describe('webhook rules', () => {
  const ok = { url: 'https://ops.example.com/hooks/fleet', secret: 's'.repeat(32), events: ['attestation.failed', 'device.revoked', 'attestation.failed'] };

  it('accepts an http(s) URL, a long enough secret and known events (each once)', () => {
    expect(checkWebhook(ok)).toEqual({ url: ok.url, secret: ok.secret, events: ['attestation.failed', 'device.revoked'] });
    expect(checkWebhook({ ...ok, url: 'http://10.0.0.5:8080/x' }).url).toBe('http://10.0.0.5:8080/x');
  });

  it.each([
    [{ url: 'ftp://example.com/x' }, /http or https/],
    [{ url: 'not a url' }, /absolute http/],
    [{ url: 'https://user:pw@example.com/' }, /credentials/],
    [{ secret: 'short' }, /16\.\.200/],
    [{ events: [] }, /at least one/],
    [{ events: ['attestation.failed', 'device.exploded'] }, /device\.exploded/],
  ])('refuses %j', (over, message) => {
    let err: unknown;
    try {
      checkWebhook({ ...ok, ...over });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe('invalid');
    expect((err as DomainError).message).toMatch(message);
  });
});
