import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { checkDeviceId } from '@fleetguard/fleet/nest';
import { HardeningService } from './hardening.service';

/** Operator API: a device's SL-C vectors, gaps and history; the 4-2 catalog in use. */
@ApiTags('hardening')
@ApiBearerAuth()
@Controller('api/v1')
export class HardeningController {
  constructor(private readonly hardening: HardeningService) {}

  @Get('devices/:id/score')
  @Roles('operator', 'manufacturer', 'auditor')
  score(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.hardening.scoreView(p, checkDeviceId(id));
  }

  /** The product's statement of applicability replaces device-decided applicability (SPEC). */
  @Put('products/:id/applicability')
  @Roles('manufacturer')
  @ApiBody({
    schema: {
      type: 'array',
      items: { type: 'object', required: ['requirement', 'applicable', 'justification'], properties: { requirement: { type: 'string' }, applicable: { type: 'boolean' }, justification: { type: 'string', maxLength: 2000 } } },
    },
  })
  putApplicability(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: unknown) {
    return this.hardening.putApplicability(p, id, body);
  }

  @Get('products/:id/applicability')
  @Roles('manufacturer', 'operator', 'auditor')
  getApplicability(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.hardening.getApplicability(p, id);
  }

  @Get('catalog')
  @Roles('admin', 'manufacturer', 'operator', 'auditor')
  @ApiQuery({ name: 'componentType', required: false, enum: ['EDR', 'HDR', 'NDR', 'SAR'], description: 'also list the items this type is scored on' })
  catalog(@Query('componentType') componentType?: string) {
    return this.hardening.catalogView(componentType);
  }

  /** Rescores every active device now (after a change of rules or catalog); answers with the counts. */
  @Post('scores/rescore')
  @Roles('admin')
  @HttpCode(200)
  rescoreAll() {
    return this.hardening.rescoreAll('rescore-all');
  }
}
