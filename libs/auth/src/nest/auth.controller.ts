import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { invalid } from '@fleetguard/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuthService } from './auth.service';
import { AuditService } from './audit.service';
import { CreateApiKeyDto, CreateOrganizationDto } from './dto/auth.dto';
import { CurrentPrincipal, Principal, Roles } from './principal';

@ApiTags('tenants')
@ApiBearerAuth()
@Controller('api/v1')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly audit: AuditService,
  ) {}

  @Post('organizations')
  @Roles('admin')
  async createOrganization(@Body() dto: CreateOrganizationDto) {
    const o = await this.auth.createOrganization(dto.name, dto.kind);
    return { id: o.id, name: o.name, kind: o.kind, createdAt: o.createdAt };
  }

  @Get('organizations')
  @Roles('admin')
  async listOrganizations() {
    return (await this.auth.listOrganizations()).map((o) => ({ id: o.id, name: o.name, kind: o.kind, createdAt: o.createdAt }));
  }

  @Post('api-keys')
  @Roles('admin')
  createApiKey(@Body() dto: CreateApiKeyDto) {
    return this.auth.createApiKey(dto.organizationId, dto.roles, dto.label);
  }

  @Delete('api-keys/:id')
  @Roles('admin')
  @HttpCode(204)
  async revokeApiKey(@Param('id') id: string) {
    await this.auth.revokeApiKey(id);
  }

  /** A tenant's auditor sees its own tenant's entries; the system organization's keys see all. */
  @Get('audit')
  @Roles('auditor', 'admin')
  async listAudit(@CurrentPrincipal() p: Principal, @Query('after') afterText?: string, @Query('limit') limitText?: string) {
    const after = wholeNumber('after', afterText, 0, Number.MAX_SAFE_INTEGER);
    const limit = wholeNumber('limit', limitText, 100, Number.MAX_SAFE_INTEGER);
    const scope = p.organizationKind === 'system' ? undefined : p.organizationId;
    const entries = await this.audit.list({ afterSeq: after, limit: Math.min(Math.max(limit, 1), 1000), organizationId: scope });
    return { entries, next: entries.length ? entries[entries.length - 1].seq : null };
  }

  @Get('audit/verify')
  @Roles('auditor', 'admin')
  verifyAudit() {
    return this.audit.verify();
  }
}

function wholeNumber(name: string, text: string | undefined, dflt: number, max: number): number {
  if (text === undefined || text === '') return dflt;
  if (!/^\d{1,16}$/.test(text) || Number(text) > max) throw invalid('audit.bad-query', `${name} must be a whole number 0..${max}`);
  return Number(text);
}
