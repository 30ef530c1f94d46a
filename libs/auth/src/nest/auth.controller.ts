import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Post, Query, DefaultValuePipe } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuthService } from './auth.service';
import { AuditService } from './audit.service';
import { CreateApiKeyDto, CreateOrganizationDto } from './dto/auth.dto';
import { Roles } from './principal';

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

  @Get('audit')
  @Roles('auditor', 'admin')
  async listAudit(
    @Query('after', new DefaultValuePipe(0), ParseIntPipe) after: number,
    @Query('limit', new DefaultValuePipe(100), ParseIntPipe) limit: number,
  ) {
    const entries = await this.audit.list({ afterSeq: after, limit: Math.min(Math.max(limit, 1), 1000) });
    return { entries, next: entries.length ? entries[entries.length - 1].seq : null };
  }

  @Get('audit/verify')
  @Roles('auditor', 'admin')
  verifyAudit() {
    return this.audit.verify();
  }
}
