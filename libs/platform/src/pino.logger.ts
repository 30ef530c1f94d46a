import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Structured JSON logs. One root logger; Nest's own messages go through it too. */
export function createRootLogger(level: string, pretty = false): Logger {
  return pino({
    level,
    base: { service: 'fleetguard' },
    redact: { paths: ['req.headers.authorization', 'adminKey', 'caPassphrase', 'secret', 'key'], censor: '[redacted]' },
    ...(pretty ? {} : {}),
  });
}

export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
