import { isDomainError } from '@fleetguard/common';
import { decodeNonce, NONCE_BYTES, newNonce } from './nonce';

describe('newNonce', () => {
  it('returns base64url of 32 random bytes and an expiry ttl seconds ahead', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    const c = newNonce(30, now);
    expect(c.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(c.nonce, 'base64url')).toHaveLength(NONCE_BYTES);
    expect(c.expiresAt.toISOString()).toBe('2025-01-01T00:00:30.000Z');
  });

  it('never repeats', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => newNonce(60).nonce));
    expect(seen.size).toBe(1000);
  });

  it.each([0, -1, 1.5, Number.NaN, 86_401])('refuses ttl %p with a DomainError', (ttl) => {
    expect(() => newNonce(ttl)).toThrow(expect.objectContaining({ code: 'nonce-ttl-invalid', kind: 'invalid' }));
  });
});

describe('decodeNonce', () => {
  it('gives the raw bytes (what the TPM quotes as extraData)', () => {
    const bytes = Buffer.alloc(32, 7);
    expect(decodeNonce(bytes.toString('base64url')).equals(bytes)).toBe(true);
  });

  it.each([
    ['padding', Buffer.alloc(32).toString('base64')],
    ['standard base64 characters', '+/' + 'A'.repeat(41)],
    ['too short', Buffer.alloc(8).toString('base64url')],
    ['too long', Buffer.alloc(65).toString('base64url')],
    ['non-canonical trailing bits', 'A'.repeat(42) + 'B'],
    ['empty', ''],
  ])('refuses %s', (_label, value) => {
    try {
      decodeNonce(value);
      throw new Error('accepted');
    } catch (e) {
      expect(isDomainError(e) && e.code).toBe('nonce-malformed');
    }
  });
});
