import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const ROLES = ['admin', 'manufacturer', 'operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
export type OrganizationKind = 'system' | 'manufacturer' | 'operator';

/** Which roles a key of an organization of this kind may carry. */
export const ROLES_BY_KIND: Record<OrganizationKind, readonly Role[]> = {
  system: ['admin', 'auditor'],
  manufacturer: ['manufacturer', 'auditor'],
  operator: ['operator', 'auditor'],
};

/**
 * API keys look like `fg_<id>_<secret>`: the id (public, 16 hex) finds the row, the secret
 * (256 random bits, base64url) is checked against its SHA-256. A slow password hash buys nothing
 * for a 256-bit random secret and would cost every request.
 */
export interface GeneratedKey {
  id: string;
  key: string;
  secretHash: string;
}

export function generateApiKey(): GeneratedKey {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `fg_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/**
 * A key given from configuration (FLEETGUARD_ADMIN_KEY) keeps its text. Its id is random: an id
 * derived from the key (it was sha256(key)[:16], shown in the audit log) would let anyone who
 * reads an id test guesses of a human-chosen key offline. Such a key is found by its hash.
 */
export function apiKeyFromText(text: string): GeneratedKey {
  const parsed = parseApiKey(text);
  if (parsed) return { id: parsed.id, key: text, secretHash: hashSecret(parsed.secret) };
  return { id: randomBytes(8).toString('hex'), key: text, secretHash: hashSecret(text) };
}

export function parseApiKey(text: string): { id: string; secret: string } | null {
  const m = /^fg_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$/.exec(text);
  return m ? { id: m[1], secret: m[2] } : null;
}

/**
 * How to find a presented bearer token: the fg_ form by its id (then the secret is checked), a
 * configured free-form key by the hash of the whole text.
 */
export type KeyCandidate = { by: 'id'; id: string; secret: string } | { by: 'hash'; hash: string; secret: string };
export function keyCandidates(text: string): KeyCandidate[] {
  const parsed = parseApiKey(text);
  const free: KeyCandidate = { by: 'hash', hash: hashSecret(text), secret: text };
  return parsed ? [{ by: 'id', ...parsed }, free] : [free];
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
