import { BadRequestException, INestApplication, ValidationError, ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { normalizeOpenApi } from './openapi.document';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { AppConfig } from '@fleetguard/common';
import { AllExceptionsFilter } from '@fleetguard/platform/nest';
import { httpDuration, httpRequests } from '@fleetguard/platform';
import { EnrollmentService, enrollmentFastRoute } from '@fleetguard/fleet/nest';

/** Deepest nesting a JSON body may have: class-transformer and class-validator recurse per level. */
export const MAX_JSON_DEPTH = 64;

/** True when a parsed JSON value nests deeper than max (iterative: the check itself cannot overflow). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return false;
}

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => hasNul(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v, depth + 1));
}

/** Swagger UI's page loads its own scripts and styles (it sets a few styles inline). */
const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Headers on every response of both listeners: no MIME sniffing; API answers are not cached
 * (they carry tenants' data); HSTS on the device listener (HTTPS); a CSP on the docs UI (the
 * dashboard sets its own). `/docs` is served on the operator listener only.
 */
function securityHeaders(req: express.Request, res: express.Response, next: express.NextFunction): void {
  const listener = (req as unknown as { listener?: string }).listener ?? 'operator';
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (listener === 'device') res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  if (req.path.startsWith('/api/') || req.path.startsWith('/.well-known/') || req.path === '/enroll' || req.path.startsWith('/attestation/')) res.setHeader('Cache-Control', 'no-store');
  if (req.path === '/docs' || req.path.startsWith('/docs/') || req.path.startsWith('/docs-')) {
    if (listener !== 'operator') {
      res.status(404).json({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.path} on the ${listener} listener` });
      return;
    }
    res.setHeader('Content-Security-Policy', DOCS_CSP);
  }
  next();
}

/** Query parameters that carry credentials are never logged. */
const SECRET_QUERY = /([?&](?:key|ticket|token|secret|password|api_key|access_token)=)[^&#]*/gi;
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, '$1[redacted]');
}

/** Messages name only the properties the API defines: an unknown property's name is the caller's
 * text and is never echoed (it would reach the log, the audit entry and the response). */
function flattenValidationError(e: ValidationError): string[] {
  const own = Object.entries(e.constraints ?? {}).map(([kind, m]) => (kind === 'whitelistValidation' ? 'unknown properties are not accepted' : m));
  return [...own, ...(e.children ?? []).flatMap((c) => flattenValidationError(c).map((m) => `${e.property}.${m}`))];
}

/** Request ids a client may choose (else a fresh UUID): short, of a safe alphabet. */
const GIVEN_REQUEST_ID = /^[\w.-]{1,64}$/;

/**
 * The request id (`X-Request-Id`, `req.id`) and one log line per response, the line pino-http
 * wrote: `req` (id, method, redacted URL), `res` (statusCode), `responseTime`, "request
 * completed" / "request aborted" / "request errored" (with `err`, for a 5xx or a stream
 * error), at error for 5xx, warn for 4xx, info otherwise; none for the health and metrics
 * probes. Unlike pino-http it makes no child logger per request (two per request, their
 * bindings serialized when made, whether or not the line is written: about 4% of the event
 * loop per enrollment at 1,000 a second, issue 18); the fields are built only when the level
 * is enabled.
 */
export function requestLog(logger: Logger): express.RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && GIVEN_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    (req as unknown as { id: string }).id = id;
    if (req.url === '/health/live' || req.url === '/metrics') return next();
    const start = Date.now();
    const done = (err?: Error) => {
      res.removeListener('close', done);
      res.removeListener('finish', done);
      res.removeListener('error', done);
      const failed = err || res.statusCode >= 500;
      const level = failed ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const fields = { req: { id, method: req.method, url: redactUrl(req.originalUrl || req.url) }, res: { statusCode: res.statusCode }, responseTime: Date.now() - start };
      if (failed) logger[level]({ ...fields, err: err ?? new Error(`failed with status code ${res.statusCode}`) }, 'request errored');
      else logger[level](fields, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('close', done);
    res.on('finish', done);
    res.on('error', done);
    next();
  };
}

/** Validation, errors, body limits, request ids, logs, metrics and OpenAPI for the HTTP listeners. */
export function configureHttp(app: INestApplication, config: AppConfig, logger: Logger): void {
  const server = app.getHttpAdapter().getInstance() as express.Express;
  server.disable('x-powered-by');
  server.set('query parser', 'simple');
  server.use(requestLog(logger));
  server.use((req: express.Request, res: express.Response, next: express.NextFunction) => {
    const end = httpDuration.startTimer();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      const listener = (req as unknown as { listener?: string }).listener ?? 'operator';
      httpRequests.inc({ listener, method: req.method, route, status: String(res.statusCode) });
      end({ listener, method: req.method, route });
    });
    next();
  });
  server.use(securityHeaders);
  server.use(express.json({ limit: config.httpMaxBody, strict: true }));
  // PostgreSQL text cannot hold NUL: refuse it in the path, the query and JSON strings up front
  // (a clear 400) instead of letting it reach the database.
  server.use((req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (nestsDeeperThan(req.body, MAX_JSON_DEPTH)) {
      res.status(400).json({ statusCode: 400, error: 'Bad Request', message: `JSON bodies may nest at most ${MAX_JSON_DEPTH} levels` });
      return;
    }
    if (/%00/.test(req.url) || hasNul(req.body)) {
      res.status(400).json({ statusCode: 400, error: 'Bad Request', message: 'NUL characters (\\u0000) are not accepted in paths, queries or JSON strings' });
      return;
    }
    next();
  });
  // Enrollment's plain bodies are answered here, ahead of Nest's router (libs/fleet enrollment.fast-route.ts); any other goes on to EnrollmentController.
  server.post('/enroll', enrollmentFastRoute(app.get(EnrollmentService)));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) =>
        new BadRequestException([...new Set(errors.flatMap(flattenValidationError))]),
    }),
  );
  app.useGlobalFilters(new AllExceptionsFilter());
  const doc = normalizeOpenApi(SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Fleetguard')
      .setDescription('Device PKI, firmware verification, remote attestation and IEC 62443-4-2 scoring for IoT fleets')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  ));
  SwaggerModule.setup('docs', app, doc);
}
