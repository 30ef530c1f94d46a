import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { invalid } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { readBoundedBody } from '@fleetguard/platform';
import { MAX_TCG_LOG_BYTES } from '../core/tcg-event-log.parser';
import { MeasuredBootStore } from './measured-boot.store';

const VERSION = /^[0-9A-Za-z.+_-]{1,64}$/;

/** Reference values for Linux devices: golden measured boot per release, measured-boot policy per product. */
@ApiTags('attestation')
@ApiBearerAuth()
@Controller('api/v1/products/:id')
export class MeasuredBootController {
  constructor(private readonly store: MeasuredBootStore) {}

  /** The raw TCG log of a known-good device (/sys/kernel/security/tpm0/binary_bios_measurements). */
  @Post('firmware/:version/reference-values/event-log')
  @Roles('manufacturer')
  @HttpCode(200)
  @ApiConsumes('application/octet-stream')
  async recordGolden(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('version') version: string, @Req() req: Request) {
    if (!VERSION.test(version)) throw invalid('firmware.bad-version', 'version may hold 1..64 letters, digits and . + _ -');
    if (req.is('application/json')) throw invalid('event-log.bad-content-type', 'send the binary log as the raw body (Content-Type: application/octet-stream)');
    return this.store.recordGoldenState(p, id, version, await readBoundedBody(req, MAX_TCG_LOG_BYTES));
  }

  /** A Keylime measured-boot reference state, or Fleetguard's measured-boot policy JSON. */
  @Put('measured-boot-policy')
  @Roles('manufacturer')
  setPolicy(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: unknown) {
    return this.store.setPolicy(p, id, body);
  }

  /** A Keylime runtime policy v1 (`digests`, `excludes`, ...): the IMA allowlist of the product. */
  @Put('runtime-policy')
  @Roles('manufacturer')
  setRuntimePolicy(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: unknown) {
    return this.store.setRuntimePolicy(p, id, body);
  }

  @Get('measured-boot-policy')
  @Roles('manufacturer', 'operator', 'auditor')
  getPolicy(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.store.getPolicy(p, id);
  }
}
