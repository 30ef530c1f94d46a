import { Controller, ForbiddenException, Get, Header, Headers, Inject, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { AuthService, Public, hasRole } from '@fleetguard/auth/nest';
import { APP_CONFIG, AnyListener, OperatorListener } from '@fleetguard/platform/nest';
import { gauge, metricsRegistry } from '@fleetguard/platform';

const databaseUp = gauge('fleetguard_database_up', 'Whether the last readiness probe could write to the database (1) or not (0)');
const probeSeconds = gauge('fleetguard_database_probe_seconds', 'Duration of the last readiness write probe');

/** A probe slower than this counts as "not ready": readiness answers within about a second under any load. */
const PROBE_TIMEOUT_MS = 800;

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

  /** The process is alive (no database involved, so it answers under any load). */
  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  /**
   * Ready when the database takes a write within PROBE_TIMEOUT_MS (a read alone says "up" on a
   * full disk). 503 with the reason otherwise.
   */
  @Get('health/ready')
  async ready() {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.ds.query('UPDATE health_probe SET written_at = now() WHERE id = 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to a write within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS))),
      ]);
      databaseUp.set(1);
      return { status: 'ok', database: 'up' };
    } catch (e) {
      databaseUp.set(0);
      throw new ServiceUnavailableException(`database not writable: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      probeSeconds.set((Date.now() - started) / 1000);
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
