import { checkWebhookTarget, internalRange } from './webhook-target';

const policy = (over: Partial<Parameters<typeof checkWebhookTarget>[1]> = {}) => ({
  allowed: [],
  ownPorts: [3000, 8443],
  lookup: async (host: string) => ({ 'hooks.example.net': ['93.184.215.14'], 'rebind.example.net': ['93.184.215.14', '169.254.169.254'], 'v6.example.net': ['fd00::1'] })[host] ?? Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' })),
  ...over,
});

describe('webhook targets (SSRF)', () => {
  it.each([
    ['http://127.0.0.1:9/x', 'loopback'],
    ['http://localhost./x', 'does not resolve'],
    ['http://2130706433/x', 'loopback'], // decimal 127.0.0.1
    ['http://0177.0.0.1/x', 'loopback'], // octal
    ['http://0x7f.1/x', 'loopback'], // hex, short form
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.20.0.1/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://100.64.0.1/', 'carrier-grade NAT'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:a9fe:a9fe]/', 'link-local'],
    ['http://[fd00::1]/', 'unique-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://0.0.0.0/', 'this network'],
    ['http://v6.example.net/', 'unique-local'],
    ['http://rebind.example.net/', 'link-local'], // one bad address among good ones is enough
  ])('refuses %s (%s)', async (url, reason) => {
    const v = await checkWebhookTarget(url, policy());
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toContain(reason);
  });

  it('accepts a public address and a name resolving to one', async () => {
    expect(await checkWebhookTarget('https://93.184.215.14/hook', policy())).toEqual({ ok: true, addresses: ['93.184.215.14'] });
    expect((await checkWebhookTarget('https://hooks.example.net/hook', policy())).ok).toBe(true);
  });

  it('an allowlisted internal receiver is accepted, but never on one of the service own ports', async () => {
    const p = policy({ allowed: ['127.0.0.1', '10.0.0.0/8'] });
    expect((await checkWebhookTarget('http://127.0.0.1:9999/x', p)).ok).toBe(true);
    expect((await checkWebhookTarget('http://10.9.9.9/x', p)).ok).toBe(true);
    const own = await checkWebhookTarget('http://127.0.0.1:3000/api/v1/devices', p);
    expect(own).toMatchObject({ ok: false, reason: expect.stringContaining('own listeners') });
    expect((await checkWebhookTarget('http://192.168.0.1/x', p)).ok).toBe(false);
  });

  it('names ranges', () => {
    expect(internalRange('8.8.8.8')).toBeNull();
    expect(internalRange('2606:4700::1111')).toBeNull();
    expect(internalRange('100.127.255.255')).toBe('carrier-grade NAT');
    expect(internalRange('garbage')).toBe('not an IP address');
  });
});
