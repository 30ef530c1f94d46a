import { Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { invalid } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { checkDeviceId } from '@fleetguard/fleet/nest';
import { SBOM_MAX_BYTES } from '../core/sbom.parser';
import { readBody, readJsonDocument } from './body.reader';
import { LifecycleService } from './lifecycle.service';

const DOCUMENT_MAX_BYTES = 16 * 1024 * 1024;
const VERSION = /^[0-9A-Za-z.+_-]{1,64}$/;
function checkVersion(v: string): string {
  if (!VERSION.test(v)) throw invalid('firmware.bad-version', 'a release version is 1..64 letters, digits and . + _ -');
  return v;
}

@ApiTags('lifecycle')
@ApiBearerAuth()
@Controller('api/v1/products/:id')
export class ProductLifecycleController {
  constructor(private readonly lifecycle: LifecycleService) {}

  /** CycloneDX 1.4-1.6 (JSON, XML) or SPDX 2.2/2.3 (JSON, tag-value), recognised from the content. */
  @Put('firmware/:version/sbom')
  @Roles('manufacturer')
  @ApiConsumes('application/vnd.cyclonedx+json', 'application/vnd.cyclonedx+xml', 'application/spdx+json', 'text/spdx', 'application/json', 'application/octet-stream')
  async putSbom(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('version') version: string, @Req() req: Request) {
    checkVersion(version);
    return this.lifecycle.putSbom(p, id, version, await readBody(req, SBOM_MAX_BYTES));
  }

  @Get('firmware/:version/sbom')
  @Roles('manufacturer', 'operator', 'auditor', 'admin')
  getSbom(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('version') version: string) {
    return this.lifecycle.getSbom(p, id, checkVersion(version));
  }

  /** OpenEoX dates: generalAvailability, endOfSales, endOfSecuritySupport, endOfLife (ISO 8601; null clears). */
  @Put('lifecycle')
  @Roles('manufacturer')
  putLifecycle(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Req() req: Request) {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('lifecycle.bad-body', 'send {generalAvailability, endOfSales, endOfSecuritySupport, endOfLife} as JSON');
    return this.lifecycle.putLifecycle(p, id, body);
  }

  @Get('lifecycle')
  @Roles('manufacturer', 'operator', 'auditor', 'admin')
  getLifecycle(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.lifecycle.getLifecycle(p, id);
  }
}

@ApiTags('lifecycle')
@ApiBearerAuth()
@Controller('api/v1')
export class AdvisoriesController {
  constructor(private readonly lifecycle: LifecycleService) {}

  /** A CSAF 2.0 advisory, validated (schema and mandatory tests) and matched to the releases. */
  @Post('advisories')
  @Roles('manufacturer')
  async postAdvisory(@CurrentPrincipal() p: Principal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const out = await this.lifecycle.postAdvisory(p, await readJsonDocument(req, DOCUMENT_MAX_BYTES));
    res.status(out.created ? 201 : 200);
    return out.advisory;
  }

  @Get('advisories')
  @Roles('manufacturer', 'operator', 'auditor', 'admin')
  list(@CurrentPrincipal() p: Principal) {
    return this.lifecycle.listAdvisories(p);
  }

  @Get('advisories/:id')
  @Roles('manufacturer', 'operator', 'auditor', 'admin')
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.lifecycle.getAdvisory(p, id);
  }

  @Get('advisories/:id/devices')
  @Roles('manufacturer', 'operator', 'auditor', 'admin')
  devices(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.lifecycle.advisoryDevices(p, id);
  }

  /** OpenVEX, CycloneDX VEX or CSAF VEX; not_affected needs a justification. */
  @Post('vex')
  @Roles('manufacturer')
  @HttpCode(201)
  async postVex(@CurrentPrincipal() p: Principal, @Req() req: Request) {
    return this.lifecycle.postVex(p, await readJsonDocument(req, DOCUMENT_MAX_BYTES));
  }

  @Get('devices/:id/exposure')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  exposure(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.lifecycle.deviceExposure(p, checkDeviceId(id));
  }
}

