import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { sendErrorResponse } from '@fleetguard/platform/nest';
import { EnrollmentService } from './enrollment.service';

/** EnrollDto's bounds (token 1..200, csr 1..32768), for text in which every character is one (printable ASCII, and a PEM's line breaks). */
const TOKEN = /^[\x20-\x7e]{1,200}$/;
const CSR_TEXT = /^[\t\n\r\x20-\x7e]{1,32768}$/;

/**
 * True for the body nearly every device sends: a plain object with exactly `token` and `csr`,
 * strings of printable ASCII within EnrollDto's lengths. Such a body passes the global
 * ValidationPipe (whitelist, forbidNonWhitelisted, transform) unchanged: for one-unit characters
 * class-validator's Length counts what `.length` counts.
 */
export function isPlainEnrollBody(body: unknown): body is { token: string; csr: string } {
  if (body === null || typeof body !== 'object' || Object.getPrototypeOf(body) !== Object.prototype) return false;
  const keys = Object.keys(body);
  if (keys.length !== 2 || !keys.includes('token') || !keys.includes('csr')) return false;
  const { token, csr } = body as Record<string, unknown>;
  return typeof token === 'string' && typeof csr === 'string' && TOKEN.test(token) && CSR_TEXT.test(csr);
}

/**
 * POST /enroll on the device listener for a plain body (isPlainEnrollBody), as an Express route
 * ahead of Nest's router. At 1,000 enrollments a second, Nest's per-request work (the router's
 * walk over every route, the guards, the interceptor, class-transformer and class-validator on
 * a DTO that is already plain) cost about a fifth of the main thread's time per enrollment
 * (issue 18). What the device sees is the same: the middlewares before it (request id, log
 * line, metrics under the route '/enroll', security headers, JSON and NUL checks) are those of
 * every route; the guards would let it through (@Public, device listener); the answer is the
 * controller's (EnrollmentService.enrollRequest, 201 and its JSON through res.json) and errors
 * go through the filter's mapping (sendErrorResponse). Any other body, or this path on the
 * operator listener, goes on to EnrollmentController (next()), which validates and answers as
 * before, and which the OpenAPI document describes.
 */
export function enrollmentFastRoute(enrollment: EnrollmentService): (req: Request, res: Response, next: NextFunction) => void {
  const logger = new Logger('HTTP');
  return (req, res, next) => {
    if ((req as Request & { listener?: string }).listener !== 'device' || !isPlainEnrollBody(req.body)) return next();
    enrollment.enrollRequest(req.body).then(
      (answer) => void res.status(201).json(answer),
      (e: unknown) => sendErrorResponse(res, e, logger),
    );
  };
}
