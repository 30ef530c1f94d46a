import type { TLSSocket } from 'node:tls';
import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { Public } from '@fleetguard/auth/nest';
import { DeviceListener } from '@fleetguard/platform/nest';
import { DeviceCertificateGuard, type DeviceIdentity } from '@fleetguard/pki/nest';
import { hardeningReportSchema } from '../core';
import { HardeningService } from './hardening.service';

/** Device listener: a device reports its configuration facts (client certificate; same rules as over MQTT). */
@ApiTags('device')
@Public()
@DeviceListener()
@UseGuards(DeviceCertificateGuard)
@Controller('devices/self')
export class DeviceHardeningController {
  constructor(private readonly hardening: HardeningService) {}

  /** 202 with the levels the report gives; 400 naming every schema problem (nothing is stored then). */
  @Post('hardening')
  @HttpCode(202)
  @ApiBody({ schema: hardeningReportSchema as object })
  async report(@Req() req: { device: DeviceIdentity; socket?: TLSSocket }, @Body() body: unknown) {
    // What the device listener negotiated with this client-certificate connection is observed evidence.
    const sock = req.socket;
    const cipher = typeof sock?.getCipher === 'function' ? sock.getCipher() : undefined;
    const connection = typeof sock?.getProtocol === 'function' ? { protocol: sock.getProtocol(), cipher: cipher?.standardName ?? cipher?.name ?? null, mutualTls: true } : undefined;
    const r = await this.hardening.submitReport(req.device.deviceId, body, 'http', connection);
    return { accepted: true, reportId: r.reportId, receivedAt: r.receivedAt, evidenced: r.evidenced, declared: r.declared, belowTarget: r.belowTarget };
  }
}
