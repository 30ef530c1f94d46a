import { Body, Controller, Get, HttpCode, Logger, Param, ParseUUIDPipe, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { invalid } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { checkDeviceId } from '@fleetguard/fleet/nest';
import { ASSESSMENT_FORMATS, type AssessmentFormat } from '../core';
import { ExportAbandoned, ZonesService } from './zones.service';

const CONTENT_TYPES: Record<AssessmentFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  // OSCAL has no registered media type; NIST serves its JSON as application/json.
  oscal: 'application/json; charset=utf-8',
};

function format(v: string | undefined): AssessmentFormat {
  const f = (v ?? 'json') as AssessmentFormat;
  if (!ASSESSMENT_FORMATS.includes(f)) throw invalid('assessment.invalid-format', `format must be one of ${ASSESSMENT_FORMATS.join(', ')}`);
  return f;
}

/** Zones of the asset owner (operator) and assessment exports. */
@ApiTags('zones')
@ApiBearerAuth()
@Controller('api/v1')
export class ZonesController {
  private readonly logger = new Logger('Assessment');

  constructor(private readonly zones: ZonesService) {}

  @Post('zones')
  @Roles('operator')
  create(@CurrentPrincipal() p: Principal, @Body() body: { name?: unknown; targetLevels?: unknown }) {
    return this.zones.create(p, body);
  }

  @Get('zones')
  @Roles('operator', 'auditor')
  list(@CurrentPrincipal() p: Principal) {
    return this.zones.list(p);
  }

  @Get('zones/:id')
  @Roles('operator', 'auditor')
  get(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.zones.get(p, id);
  }

  @Put('zones/:id/target-levels')
  @Roles('operator')
  targetLevels(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: { targetLevels?: unknown }) {
    return this.zones.setTargetLevels(p, id, body);
  }

  @Put('zones/:id/devices')
  @Roles('operator')
  devices(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: { add?: unknown; remove?: unknown }) {
    return this.zones.changeDevices(p, id, body);
  }

  @Post('zones/:id/countermeasures')
  @Roles('operator')
  @HttpCode(201)
  countermeasure(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: { requirement?: unknown; description?: unknown }) {
    return this.zones.addCountermeasure(p, id, body);
  }

  @Get('zones/:id/assessment')
  @Roles('operator', 'auditor')
  @ApiQuery({ name: 'format', required: false, enum: ASSESSMENT_FORMATS })
  @ApiProduces('application/json', 'text/csv', 'text/html')
  async zoneAssessment(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Query('format') f: string | undefined, @Res() res: Response) {
    const fmt = format(f);
    await this.send(res, fmt, `zone-${id}`, () => this.zones.exportZone(p, id, fmt, res));
  }

  @Get('devices/:id/assessment')
  @Roles('operator', 'manufacturer', 'auditor')
  @ApiQuery({ name: 'format', required: false, enum: ASSESSMENT_FORMATS })
  @ApiProduces('application/json', 'text/csv', 'text/html')
  async deviceAssessment(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query('format') f: string | undefined, @Res() res: Response) {
    const fmt = format(f);
    const deviceId = checkDeviceId(id);
    await this.send(res, fmt, `device-${deviceId}`, () => this.zones.exportDevice(p, deviceId, fmt, res));
  }

  /** Headers go out with the first byte, so a 404 or 400 found before that is still a proper error. */
  private async send(res: Response, fmt: AssessmentFormat, name: string, run: () => Promise<void>): Promise<void> {
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    const headers = () => {
      if (res.headersSent) return;
      res.status(200).setHeader('content-type', CONTENT_TYPES[fmt]);
      if (fmt !== 'json') res.setHeader('content-disposition', `${fmt === 'html' ? 'inline' : 'attachment'}; filename="assessment-${name}.${fmt === 'oscal' ? 'oscal.json' : fmt}"`);
    };
    res.write = ((...a: Parameters<Response['write']>) => (headers(), write(...a))) as Response['write'];
    res.end = ((...a: unknown[]) => (headers(), (end as (...x: unknown[]) => Response)(...a))) as Response['end'];
    try {
      await run();
    } catch (e) {
      res.write = write;
      res.end = end;
      if (!res.headersSent) throw e;
      if (e instanceof ExportAbandoned) return; // the client left: nothing to report to it
      this.logger.error(`assessment export aborted after the headers were sent: ${(e as Error).message}`);
      res.destroy(e as Error);
    }
  }
}
