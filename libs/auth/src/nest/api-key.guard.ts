import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Role } from '../core/api-key';
import { AuthService } from './auth.service';
import { PUBLIC_KEY, ROLES_KEY } from './principal';

/**
 * Global guard: every route is closed unless marked @Public() or @Roles(...). A missing, unknown
 * or revoked key is 401; a valid key without the role is 403. Tenant scoping happens in the
 * services (another tenant's resource is 404).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const roles = this.reflector.getAllAndOverride<Role[]>(ROLES_KEY, targets);
    const req = ctx.switchToHttp().getRequest();
    const header: string | undefined = req.headers['authorization'];
    const m = header ? /^Bearer\s+(\S{1,300})\s*$/i.exec(header) : null;
    if (!m) throw new UnauthorizedException('missing API key: send Authorization: Bearer <key>');
    const principal = await this.auth.authenticate(m[1]);
    if (!principal) throw new UnauthorizedException('unknown or revoked API key');
    req.principal = principal;
    if (!roles) throw new ForbiddenException('this route is not open to API keys');
    if (!principal.roles.some((r) => roles.includes(r))) {
      throw new ForbiddenException(`this needs one of the roles: ${roles.join(', ')}`);
    }
    return true;
  }
}
