import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { RepeatLimiter } from '../core/repeat-limiter';

/** Structured JSON logs. One root logger; Nest's own messages go through it too. */
export function createRootLogger(level: string, pretty = false): Logger {
  return pino({
    level,
    base: { service: 'fleetguard' },
    redact: { paths: ['req.headers.authorization', 'adminKey', 'caPassphrase', 'secret', 'key'], censor: '[redacted]' },
    ...(pretty ? {} : {}),
  });
}

/** Nest's logger interface over pino; repeated warnings and errors of one shape are held to a few per 10 s (the count held back is logged). */
export class PinoNestLogger implements LoggerService {
  private readonly repeats = new RepeatLimiter(5, 10_000);

  constructor(private readonly logger: Logger) {}

  private admitted(level: 'warn' | 'error', message: string, context?: string): boolean {
    const { write, heldBefore } = this.repeats.admit(`${level} ${context ?? ''} ${message}`);
    if (heldBefore > 0) this.logger[level]({ context, repeated: heldBefore }, `${heldBefore} more like the next line were held back in the last 10 s`);
    return write;
  }
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    if (this.admitted('error', String(message), context)) this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    if (this.admitted('warn', String(message), context)) this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
