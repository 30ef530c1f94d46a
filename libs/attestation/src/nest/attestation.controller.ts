import { Body, Controller, DefaultValuePipe, Get, Headers, HttpCode, Inject, Param, ParseIntPipe, ParseUUIDPipe, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsOptional, IsString, Length } from 'class-validator';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { Response } from 'express';
import { AppConfig, invalid, notFound } from '@fleetguard/common';
import { APP_CONFIG, AnyListener, DeviceListener } from '@fleetguard/platform/nest';
import { CurrentPrincipal, Principal, Public, Roles } from '@fleetguard/auth/nest';
import { DeviceCertificateGuard, DeviceIdentity } from '@fleetguard/pki/nest';
import { DevicesService, checkDeviceId } from '@fleetguard/fleet/nest';
import { MAX_EVIDENCE_CHARS } from '../core/eat-evidence.parser';
import { negotiateEar } from '../core/ear.media-type';
import { linuxEvidenceView } from '../core/linux-evidence.view';
import type { AppraisalFinding } from '../core/appraisal.pipeline';
import { AttestationResultEntity } from '../entities/attestation-result.entity';
import { AttestationService } from './attestation.service';
import { VerifierKeyService } from './verifier-key.service';

class EvidenceDto {
  @ApiProperty({ required: false, description: 'EAT, compact JWS signed with the enrolled device key' })
  @IsOptional()
  @IsString()
  @Length(1, MAX_EVIDENCE_CHARS)
  evidence?: string;

  @ApiProperty({ required: false, description: 'PSA attestation token (RFC 9783, COSE_Sign1), base64url; instead of evidence' })
  @IsOptional()
  @IsString()
  @Length(1, 22_000)
  psaToken?: string;
}

/** Device listener: the HTTP form of the challenge/evidence exchange (client certificate). */
@ApiTags('device')
@Public()
@DeviceListener()
@UseGuards(DeviceCertificateGuard)
@Controller('attestation')
export class DeviceAttestationController {
  constructor(
    private readonly attestation: AttestationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('challenge')
  @HttpCode(200)
  async challenge(@Req() req: { device: DeviceIdentity }) {
    const c = await this.attestation.challenge(req.device.deviceId);
    return { nonce: c.nonce, expiresAt: c.expiresAt.toISOString() };
  }

  @Post('evidence')
  @HttpCode(200)
  async evidence(@Req() req: { device: DeviceIdentity }, @Body() dto: EvidenceDto, @Headers('accept') accept: string | undefined, @Res() res: Response): Promise<void> {
    // Negotiated before the appraisal: a 406 must not spend the nonce.
    const answer = negotiateEar(accept, this.config.earForm, { json: true });
    const r = await this.attestation.receiveHttpEvidence(req.device.deviceId, dto.evidence, dto.psaToken, answer.kind === 'jwt' ? answer.form : undefined);
    if (answer.kind === 'json') res.status(200).setHeader('Vary', 'Accept').json(r);
    else sendEar(res, answer.contentType, r.ear);
  }
}

/** The verifier's public key, for relying parties that check EARs themselves. */
@ApiTags('attestation')
@Public()
@AnyListener()
@Controller('attestation')
export class VerifierKeyController {
  constructor(private readonly keys: VerifierKeyService) {}

  @Get('verifier-key')
  key() {
    return this.keys.publicJwk;
  }
}

/** The EAR as the body, its media type exactly (a Buffer, so Express appends no `; charset=`). */
function sendEar(res: Response, contentType: string, ear: string): void {
  res.status(200).setHeader('Content-Type', contentType);
  res.setHeader('Vary', 'Accept');
  res.end(Buffer.from(ear, 'ascii'));
}

export function toResultView(r: AttestationResultEntity) {
  return {
    id: r.id,
    status: r.status,
    trustVector: r.trustVector,
    reasons: r.reasons,
    findings: r.findings,
    firmwareVersion: r.firmwareVersion,
    securityCounter: r.securityCounter,
    claims: r.claims,
    evidenceSha256: createHash('sha256').update(r.evidence).digest('hex'),
    ear: r.ear,
    createdAt: r.createdAt,
  };
}

@ApiTags('devices')
@ApiBearerAuth()
@Controller('api/v1/devices')
export class DeviceAttestationsController {
  constructor(
    private readonly attestation: AttestationService,
    private readonly devices: DevicesService,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** One result's EAR, in the form `Accept` asks for (the stored EAR, or the same appraisal signed again in the other form). */
  @Get(':id/attestations/:resultId/ear')
  @Roles('operator', 'manufacturer', 'auditor')
  async ear(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Param('resultId', new ParseUUIDPipe()) resultId: string, @Headers('accept') accept: string | undefined, @Res() res: Response): Promise<void> {
    const answer = negotiateEar(accept, this.config.earForm, { json: false });
    await this.devices.get(p, checkDeviceId(id));
    const ear = await this.attestation.storedEar(id, resultId, answer.kind === 'jwt' ? answer.form : undefined);
    if (ear === null) throw notFound('attestation.not-found', `no attestation result ${resultId} for device ${id}`);
    sendEar(res, answer.kind === 'jwt' ? answer.contentType : 'application/jwt', ear);
  }

  @Post(':id/attest')
  @Roles('operator', 'manufacturer')
  @HttpCode(202)
  async attest(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    const device = await this.devices.get(p, checkDeviceId(id));
    if (device.status === 'revoked') throw invalid('device.revoked', `device ${id} is revoked`);
    return this.attestation.attestNow(device.id);
  }

  /** Attestation history, newest first; `before` is the createdAt cursor of the last page. */
  @Get(':id/attestations')
  @Roles('operator', 'manufacturer', 'auditor')
  async list(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query('limit', new DefaultValuePipe(20), ParseIntPipe) limit: number, @Query('before') before?: string) {
    // a four-digit year: JavaScript's Date reaches ±271821, PostgreSQL's timestamptz does not
    if (before !== undefined && (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(before) || Number.isNaN(Date.parse(before)))) {
      throw invalid('attestations.bad-cursor', 'before must be an ISO-8601 time (years 0000..9999)');
    }
    await this.devices.get(p, checkDeviceId(id));
    const qb = this.ds.getRepository(AttestationResultEntity).createQueryBuilder('r').where('r.device_id = :id', { id }).orderBy('r.created_at', 'DESC').limit(Math.min(Math.max(limit, 1), 200));
    if (before) qb.andWhere('r.created_at < :before', { before: new Date(before) });
    const items = await qb.getMany();
    return { items: items.map(toResultView), next: items.length ? items[items.length - 1].createdAt.toISOString() : null };
  }

  /**
   * A Linux device's result: its TCG boot log decoded event by event and its IMA entries, each
   * with the findings the appraisal recorded against it (which event or file failed and why).
   */
  @Get(':id/attestations/:resultId/linux-evidence')
  @Roles('operator', 'manufacturer', 'auditor')
  async linuxEvidence(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Param('resultId') resultId: string) {
    await this.devices.get(p, checkDeviceId(id));
    const r = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(resultId)
      ? await this.ds.getRepository(AttestationResultEntity).findOne({ where: { id: resultId, deviceId: id } })
      : null;
    if (!r) throw notFound('attestation.not-found', `no attestation result ${resultId} of device ${id}`);
    const view = linuxEvidenceView(r.evidence, r.findings as unknown as AppraisalFinding[]);
    if (!view) throw notFound('attestation.no-linux-evidence', `attestation result ${resultId} carries no TCG boot log`);
    return { resultId: r.id, status: r.status, firmwareVersion: r.firmwareVersion, createdAt: r.createdAt, ...view };
  }
}
