import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, catchError, concatMap } from 'rxjs';
import { toErrorBody } from '@fleetguard/platform/nest';
import { AuditService } from './audit.service';
import { Principal } from './principal';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every write through the operator API appends an audit entry: who (key id), what (method and
 * route), which resource, when, and the outcome (status code, or the error code). The response
 * waits for the entry to be committed, so an acknowledged write is always in the log.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditService) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest();
    const res = ctx.switchToHttp().getResponse();
    if (!WRITES.has(req.method) || req.listener === 'device') return next.handle();
    const record = (outcome: string, resource: string, extra: Record<string, unknown> = {}) => {
      const p: Principal | undefined = req.principal;
      return this.audit.append({
        actor: p ? `key:${p.keyId}` : 'anonymous',
        organizationId: p?.organizationId ?? null,
        action: `${req.method} ${req.route?.path ?? req.path}`,
        resource,
        outcome,
        details: { requestId: req.id, ...extra },
      });
    };
    return next.handle().pipe(
      concatMap(async (value) => {
        const v = value as { id?: string; keyId?: string; deviceId?: string } | undefined;
        const id = v && typeof v === 'object' ? (v.id ?? v.keyId ?? v.deviceId) : undefined;
        await record(String(res.statusCode ?? 200), id ? `${req.path}#${id}` : req.path);
        return value;
      }),
      catchError(async (err) => {
        const body = toErrorBody(err);
        await record(String(body.statusCode), req.path, { code: body.code, message: body.message }).catch(() => undefined);
        throw err;
      }),
    );
  }
}
