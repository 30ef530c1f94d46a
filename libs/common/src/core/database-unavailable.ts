/**
 * Whether an error means "the database cannot be reached or cannot write now" (as opposed to a
 * bug or bad input): the edges answer 503 with Retry-After and the workers retry. PostgreSQL
 * SQLSTATE classes 08 (connection), 53 (insufficient resources: disk full, too many
 * connections), 57P01-57P03 (shutdown, cannot connect now); socket errors from the driver;
 * the pool's and TypeORM's connection messages; PGlite's abort on a full disk.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 4; depth++) {
    const x = cur as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    const code = typeof x.code === 'string' ? x.code : '';
    if (/^(08|53)/.test(code) || /^57P0[123]$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENOSPC'].includes(code)) return true;
    const message = typeof x.message === 'string' ? x.message : '';
    if (/Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)|terminating connection|no space left on device|ENOSPC|Aborted\(\)/i.test(message)) return true;
    cur = x.driverError ?? x.cause;
  }
  return false;
}
