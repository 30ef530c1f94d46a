import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { invalid } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { RekeyDto } from './dto/pki.dto';
import { PkiAdminService } from './pki-admin.service';

@ApiTags('pki')
@ApiBearerAuth()
@Controller('api/v1/pki')
export class PkiAdminController {
  constructor(private readonly pki: PkiAdminService) {}

  @Get('issuing-ca')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  issuingCas() {
    return this.pki.issuingCas();
  }

  /** A new issuing CA issues from now on; the earlier ones keep validating until their certificates expire. */
  @Post('issuing-ca/rollover')
  @Roles('admin')
  @HttpCode(201)
  rollover(@CurrentPrincipal() p: Principal) {
    return this.pki.rollover(p);
  }

  @Post('rekey')
  @Roles('operator', 'manufacturer', 'admin')
  @HttpCode(200)
  rekey(@CurrentPrincipal() p: Principal, @Body() dto: RekeyDto) {
    return this.pki.requestRekey(p, dto);
  }

  @Get('audit')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  audit(@CurrentPrincipal() p: Principal, @Query('days') days?: string) {
    const n = days === undefined ? 30 : /^[0-9]{1,5}$/.test(days) ? Number(days) : NaN;
    if (Number.isNaN(n)) throw invalid('pki.bad-days', 'days must be a whole number from 0 to 36525');
    return this.pki.findings(p, n);
  }
}
