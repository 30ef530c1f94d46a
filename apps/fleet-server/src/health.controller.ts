import { Controller, ForbiddenException, Get, Header, Headers, Inject, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { AuthService, Public, hasRole } from '@fleetguard/auth';
import { APP_CONFIG, AnyListener, OperatorListener, metricsRegistry } from '@fleetguard/platform';

@ApiTags('health')
@Controller()
@Public()
@AnyListener()
export class HealthController {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly auth: AuthService,
  ) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready() {
    try {
      await this.ds.query('SELECT 1');
      return { status: 'ok', database: 'up' };
    } catch (e) {
      throw new ServiceUnavailableException(`database unreachable: ${(e as Error).message}`);
    }
  }

  /** Operator listener only; an admin or auditor key unless FLEETGUARD_METRICS_PUBLIC=true. */
  @Get('metrics')
  @OperatorListener()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metrics(@Headers('authorization') authorization?: string) {
    if (!this.config.metricsPublic) {
      const m = authorization ? /^Bearer\s+(\S{1,300})\s*$/i.exec(authorization) : null;
      const p = m ? await this.auth.authenticate(m[1]) : null;
      if (!p) throw new UnauthorizedException('metrics need an admin or auditor key (or FLEETGUARD_METRICS_PUBLIC=true)');
      if (!hasRole(p, 'admin', 'auditor')) throw new ForbiddenException('metrics need an admin or auditor key');
    }
    return metricsRegistry.metrics();
  }
}
