import { createHash, randomBytes } from 'node:crypto';
import { pooledRandomBytes } from '@fleetguard/common';

/** Enrollment tokens: 192 random bits, shown once, stored as SHA-256. */
export function newEnrollmentToken(): { token: string; hash: string } {
  const token = `fget_${randomBytes(24).toString('base64url')}`;
  return { token, hash: hashEnrollmentToken(token) };
}

export function hashEnrollmentToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export const ENROLLMENT_TOKEN = /^fget_[A-Za-z0-9_-]{32}$/;

/** Device ids: `fg-` and 16 hex digits; also the certificate CN and the MQTT client id. */
export function newDeviceId(): string {
  return `fg-${pooledRandomBytes(8).toString('hex')}`;
}
