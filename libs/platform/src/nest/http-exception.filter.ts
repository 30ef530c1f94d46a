import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError, DomainErrorKind, isDatabaseUnavailable, unavailable } from '@fleetguard/common';

const KIND_STATUS: Record<DomainErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  gone: 410,
  'not-acceptable': 406,
  'too-large': 413,
  unsupported: 415,
  'rate-limited': 429,
  unavailable: 503,
};

/** Retry-After sent while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  errorId?: string;
}

/** Maps any error to the JSON shape of SPEC.md; Node/Express errors with a 4xx status (body
 * parser: malformed JSON, too large) keep it; anything unexpected is a 500 with an error id. */
export function toErrorBody(exception: unknown, logger?: Logger): ErrorBody {
  if (exception instanceof DomainError) {
    const status = KIND_STATUS[exception.kind];
    return { statusCode: status, error: reason(status), message: exception.message, code: exception.code };
  }
  if (exception instanceof HttpException && exception.cause && typeof exception.cause === 'object' && 'type' in exception.cause) {
    // Nest wraps body-parser errors (malformed JSON, too large) in an HttpException: say it plainly.
    return toErrorBody(exception.cause, logger);
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const res = exception.getResponse() as string | { message?: string | string[]; code?: string };
    const raw = typeof res === 'string' ? res : res.message;
    const message = Array.isArray(raw) ? raw.join('; ') : (raw ?? exception.message);
    return { statusCode: status, error: reason(status), message, ...(typeof res === 'object' && res.code ? { code: res.code } : {}) };
  }
  if (isDatabaseUnavailable(exception)) {
    return toErrorBody(unavailable('database.unavailable', 'the database is unreachable; try again shortly', DATABASE_RETRY_AFTER_SECONDS), logger);
  }
  const e = exception as { status?: number; statusCode?: number; type?: string; message?: string; expose?: boolean };
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    let message = e.expose !== false && e.message ? e.message : reason(status);
    if (e.type === 'entity.parse.failed') message = `malformed JSON body: ${e.message}`;
    if (e.type === 'entity.too.large') message = 'request body too large';
    return { statusCode: status, error: reason(status), message };
  }
  const errorId = randomUUID();
  logger?.error(`unexpected error ${errorId}: ${(exception as Error)?.stack ?? String(exception)}`);
  return { statusCode: 500, error: 'Internal Server Error', message: 'unexpected error; see the service log', errorId };
}

function reason(status: number): string {
  const name = HttpStatus[status];
  return name ? name.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join(' ') : 'Error';
}

/** An Express response, as far as the error answer needs it. */
interface ErrorResponse {
  headersSent: boolean;
  end?: () => void;
  setHeader?: (name: string, value: string) => void;
  status(code: number): { json(body: unknown): unknown };
}

/**
 * Answers `exception` on `res`: the JSON of toErrorBody (an unexpected error logged with its
 * id), Retry-After when the error gives one or the database is unreachable. What every route
 * answers an error with, through AllExceptionsFilter or a route outside Nest's router.
 */
export function sendErrorResponse(res: ErrorResponse, exception: unknown, logger: Logger): void {
  const body = toErrorBody(exception, logger);
  if (res.headersSent) {
    res.end?.();
    return;
  }
  const retryAfter = exception instanceof DomainError ? exception.details?.retryAfterSeconds : body.statusCode === 503 ? DATABASE_RETRY_AFTER_SECONDS : undefined;
  if (typeof retryAfter === 'number') res.setHeader?.('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  res.status(body.statusCode).json(body);
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');
  catch(exception: unknown, host: ArgumentsHost): void {
    sendErrorResponse(host.switchToHttp().getResponse(), exception, this.logger);
  }
}
