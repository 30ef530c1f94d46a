/**
 * Typed errors raised by the lib cores. Each carries a stable machine code and a kind; the edges
 * (HTTP filter, MQTT handlers, CLI) map the kind to a status. Cores never throw plain Error for
 * a condition a caller can cause.
 */
export type DomainErrorKind =
  | 'invalid' // 400: malformed or unacceptable input
  | 'unauthorized' // 401: missing or bad credentials
  | 'forbidden' // 403: authenticated but not allowed
  | 'not-found' // 404: absent, or another tenant's
  | 'conflict' // 409: state forbids it (used token, duplicate release)
  | 'gone' // 410: expired
  | 'too-large' // 413
  | 'not-acceptable' // 406: no representation the client accepts
  | 'unsupported' // 415
  | 'rate-limited' // 429: this caller sends too often (details.retryAfterSeconds)
  | 'unavailable'; // 503: the service cannot take it now, try again (details.retryAfterSeconds)

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: DomainErrorKind = 'invalid',
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 'invalid', details);
export const notFound = (code: string, message: string) => new DomainError(code, message, 'not-found');
export const conflict = (code: string, message: string) => new DomainError(code, message, 'conflict');

/** 503 with Retry-After: overloaded or the database is unreachable; the same request later succeeds. */
export const unavailable = (code: string, message: string, retryAfterSeconds: number) => new DomainError(code, message, 'unavailable', { retryAfterSeconds });
/** 429 with Retry-After. */
export const rateLimited = (code: string, message: string, retryAfterSeconds: number) => new DomainError(code, message, 'rate-limited', { retryAfterSeconds });

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
