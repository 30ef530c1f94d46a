import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { OrganizationKind, Role } from '../core/api-key';

/** Who is calling: resolved from the API key by the guard, attached to the request. */
export interface Principal {
  keyId: string;
  organizationId: string;
  organizationKind: OrganizationKind;
  roles: Role[];
}

export const ROLES_KEY = 'fleetguard:roles';
export const PUBLIC_KEY = 'fleetguard:public';

/** The roles allowed on a route (any of them). Routes without @Roles or @Public are refused. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
/** No API key needed (health, metrics, CA chain, CRL, verifier key, device routes with their own auth). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest().principal;
});

export function hasRole(p: Principal, ...roles: Role[]): boolean {
  return p.roles.some((r) => roles.includes(r));
}
