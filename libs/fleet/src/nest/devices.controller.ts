import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { invalid, isDeviceId } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { DeviceEntity } from '../entities/device.entity';
import { RevokeDeviceDto } from './dto/enrollment.dto';
import { DevicesService } from './devices.service';
import { FleetQueryService } from './fleet-query.service';

export function checkDeviceId(id: string): string {
  if (!isDeviceId(id)) throw invalid('device.bad-id', 'a device id is 1..64 letters, digits and . _ -');
  return id;
}

export function toDeviceView(d: DeviceEntity) {
  return {
    id: d.id,
    productId: d.productId,
    manufacturerId: d.manufacturerOrgId,
    operatorId: d.operatorOrgId,
    status: d.status,
    keyType: d.keyType,
    hasAttestationKey: !!d.akPublicKey,
    certificate: { serial: d.certSerial, notAfter: d.certNotAfter },
    firmware: { version: d.firmwareVersion, securityCounter: d.firmwareSecurityCounter },
    attestation: { status: d.attestationStatus, at: d.attestationAt, affirmedAt: d.affirmedAt },
    levels: { evidenced: d.slEvidenced, declared: d.slDeclared, belowTarget: d.belowTarget },
    lastSeenAt: d.lastSeenAt,
    enrolledAt: d.createdAt,
  };
}

@ApiTags('devices')
@ApiBearerAuth()
@Controller('api/v1/devices')
export class DevicesController {
  constructor(
    private readonly devices: DevicesService,
    private readonly fleet: FleetQueryService,
  ) {}

  @Get(':id')
  @Roles('operator', 'manufacturer', 'auditor', 'admin')
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    const device = await this.devices.get(p, checkDeviceId(id));
    return { ...toDeviceView(device), integrity: this.fleet.integrityOf(device) };
  }

  @Post(':id/revoke')
  @Roles('operator', 'manufacturer')
  @HttpCode(200)
  revoke(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() dto: RevokeDeviceDto) {
    return this.devices.revoke(p, checkDeviceId(id), dto.reason);
  }
}
