import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Put, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { invalid } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { AddSigningKeyDto, ReferenceValuesDto, RevokeReleaseDto } from './dto/firmware.dto';
import { FirmwareService, toImageView, toReleaseView } from './firmware.service';

const VERSION = /^[0-9A-Za-z.+_-]{1,64}$/;
const checkVersion = (v: string) => {
  if (!VERSION.test(v)) throw invalid('firmware.bad-version', 'version may hold 1..64 letters, digits and . + _ -');
  return v;
};

@ApiTags('firmware')
@ApiBearerAuth()
@Controller('api/v1/products/:id')
export class FirmwareController {
  constructor(private readonly firmware: FirmwareService) {}

  @Post('signing-keys')
  @Roles('manufacturer')
  async addKey(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() dto: AddSigningKeyDto) {
    const k = await this.firmware.addSigningKey(p, id, dto.publicKey);
    return { keyId: k.keyId, algorithm: k.algorithm, status: k.status };
  }

  @Get('signing-keys')
  @Roles('manufacturer')
  async listKeys(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return (await this.firmware.listSigningKeys(p, id)).map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, status: k.status, createdAt: k.createdAt, revokedAt: k.revokedAt }));
  }

  @Delete('signing-keys/:keyId')
  @Roles('manufacturer')
  revokeKey(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('keyId') keyId: string) {
    if (!/^[0-9a-fA-F]{64}$/.test(keyId)) throw invalid('signing-key.bad-id', 'a key id is 64 hex digits (SHA-256 of the DER public key)');
    return this.firmware.revokeSigningKey(p, id, keyId);
  }

  /** The image is the raw request body, streamed (never buffered whole); a detached manifest rides in X-Firmware-Manifest. */
  @Post('firmware')
  @Roles('manufacturer')
  @ApiConsumes('application/octet-stream')
  @ApiHeader({ name: 'X-Firmware-Manifest', required: false, description: 'compact JWS manifest, for images that are not MCUboot' })
  async upload(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Req() req: Request, @Headers('x-firmware-manifest') manifest?: string) {
    if (req.is('application/json')) throw invalid('firmware.bad-content-type', 'send the image as the raw body (Content-Type: application/octet-stream), not JSON');
    const { release, verdict } = await this.firmware.uploadRelease(p, id, req, manifest);
    return { ...toReleaseView(release), image: toImageView(verdict) };
  }

  @Get('firmware')
  @Roles('manufacturer', 'operator', 'auditor')
  async list(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return (await this.firmware.listReleases(p, id)).map(toReleaseView);
  }

  @Post('firmware/:version/revoke')
  @Roles('manufacturer')
  @HttpCode(200)
  async revoke(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('version') version: string, @Body() dto: RevokeReleaseDto) {
    return toReleaseView(await this.firmware.revokeRelease(p, id, checkVersion(version), dto.reason));
  }

  @Put('firmware/:version/reference-values')
  @Roles('manufacturer')
  async setReferenceValues(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('version') version: string, @Body() dto: ReferenceValuesDto) {
    return toReleaseView(await this.firmware.setReferenceValues(p, id, checkVersion(version), dto));
  }
}
