import { CanActivate, ExecutionContext, Injectable, NotFoundException, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/**
 * The service has two HTTP listeners on one Nest application: the operator API (people and
 * integrations, API keys) and the device listener (HTTPS, enrollment tokens or client
 * certificates). Each request is tagged with the listener it came in on; a route answers only on
 * its own listener and is a 404 on the other.
 */
export type ListenerName = 'operator' | 'device';
export const LISTENER_KEY = 'fleetguard:listener';

/** Route served on the device listener only. */
export const DeviceListener = () => SetMetadata(LISTENER_KEY, ['device']);
/** Route served on the operator listener only (the default; says so where a class allows both). */
export const OperatorListener = () => SetMetadata(LISTENER_KEY, ['operator']);
/** Route served on both listeners (CA chain, CRL, health). */
export const AnyListener = () => SetMetadata(LISTENER_KEY, ['operator', 'device']);

@Injectable()
export class ListenerGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest();
    const allowed = this.reflector.getAllAndOverride<ListenerName[]>(LISTENER_KEY, [ctx.getHandler(), ctx.getClass()]) ?? ['operator'];
    const on: ListenerName = req.listener ?? 'operator';
    if (!allowed.includes(on)) throw new NotFoundException(`no route ${req.method} ${req.path} on the ${on} listener`);
    return true;
  }
}
