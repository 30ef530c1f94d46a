import { DomainError } from '@fleetguard/common';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor';

describe('device cursor', () => {
  it('round-trips a seq, bigint-sized ones too, as opaque base64url', () => {
    for (const seq of [0, 1, 42, 9007199254740993n, '9223372036854775807']) {
      const c = encodeDeviceCursor(seq);
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(c).not.toContain(String(seq));
      expect(decodeDeviceCursor(c)).toBe(String(seq));
    }
  });

  it.each([
    ['', 'empty'],
    ['not a cursor!', 'not base64url'],
    [Buffer.from('d1:abc').toString('base64url'), 'not a number'],
    [Buffer.from('x1:12').toString('base64url'), 'another prefix'],
    [Buffer.from('d1:-1').toString('base64url'), 'negative'],
    [Buffer.from('d1:0012').toString('base64url'), 'leading zeros'],
    [Buffer.from('d1:9223372036854775808').toString('base64url'), 'beyond bigint'],
    ['A'.repeat(65), 'too long'],
  ])('refuses %j (%s) with a 400-kind error', (cursor) => {
    expect(() => decodeDeviceCursor(cursor)).toThrow(DomainError);
    try {
      decodeDeviceCursor(cursor);
    } catch (e) {
      expect((e as DomainError).kind).toBe('invalid');
      expect((e as DomainError).code).toBe('device.bad-cursor');
    }
  });
});
