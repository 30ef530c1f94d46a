import { Controller, Get, Logger, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import type { IntegrityStatus } from '@fleetguard/common';
import { toDeviceView } from './devices.controller';
import { DEVICE_PAGE_DEFAULT, FleetReportQueryDto, ListDevicesQueryDto } from './dto/fleet.dto';
import { DeviceFilter, FleetQueryService } from './fleet-query.service';
import { streamFleetReport } from './fleet-report.stream';

function toFilter(q: ListDevicesQueryDto): DeviceFilter {
  const bool = (v?: 'true' | 'false') => (v === undefined ? undefined : v === 'true');
  return {
    statuses: q.status ? ([...new Set(q.status.split(','))] as IntegrityStatus[]) : undefined,
    productId: q.productId,
    firmwareVersion: q.firmwareVersion,
    belowTarget: bool(q.belowTarget),
    stale: bool(q.stale),
    exposed: bool(q.exposed),
  };
}

/** The operator's fleet view: the filtered device list, the summary and the streamed report. */
@ApiTags('fleet')
@ApiBearerAuth()
@Controller('api/v1')
export class FleetController {
  private readonly logger = new Logger('FleetReport');

  constructor(private readonly fleet: FleetQueryService) {}

  @Get('devices')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  async list(@CurrentPrincipal() p: Principal, @Query() q: ListDevicesQueryDto) {
    const page = await this.fleet.list(p, toFilter(q), { cursor: q.cursor, limit: q.limit ?? DEVICE_PAGE_DEFAULT });
    return { items: page.items.map(({ device, integrity }) => ({ ...toDeviceView(device), integrity })), next: page.next };
  }

  @Get('fleet/summary')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  summary(@CurrentPrincipal() p: Principal) {
    return this.fleet.summary(p);
  }

  @Get('fleet/report')
  @Roles('operator', 'auditor', 'admin')
  @ApiProduces('text/csv', 'application/json')
  async report(@CurrentPrincipal() p: Principal, @Query() q: FleetReportQueryDto, @Res() res: Response) {
    const now = new Date();
    try {
      await streamFleetReport(this.fleet.report(p, now), q.format ?? 'csv', res, now);
    } catch (e) {
      if (!res.headersSent) throw e;
      this.logger.error(`fleet report aborted after the headers were sent: ${(e as Error).message}`);
    }
  }
}
