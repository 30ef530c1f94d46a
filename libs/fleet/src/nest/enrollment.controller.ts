import { ArgumentsHost, Body, Catch, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import basicAuth from 'basic-auth';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DomainError, invalid } from '@fleetguard/common';
import { AllExceptionsFilter, DeviceListener, toErrorBody } from '@fleetguard/platform/nest';
import { CurrentPrincipal, Principal, Public, Roles } from '@fleetguard/auth/nest';
import { AllowExpiredWithinGrace, CaService, DeviceCertificateGuard, DeviceIdentity } from '@fleetguard/pki/nest';
import { EST_CONTENT_TYPES, buildCsrAttrs, estBase64Encode, estDecodeBody, toPkcs7CertsOnly } from '@fleetguard/pki';
import { CreateEnrollmentGrantDto, CreateTokensDto, EnrollDto } from './dto/enrollment.dto';
import { EnrollmentGrantsService } from './enrollment-grants.service';
import { EnrollmentService } from './enrollment.service';
import { readSmallBody } from './raw-body';

@ApiTags('enrollment')
@ApiBearerAuth()
@Controller('api/v1/products/:id/enrollment-tokens')
export class EnrollmentTokensController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post()
  @Roles('manufacturer')
  create(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() dto: CreateTokensDto) {
    return this.enrollment.createTokens(p, id, dto.count, dto.expiresInSeconds, dto.operatorOrganizationId, dto.grantId);
  }
}

/** An operator's consent to a manufacturer putting devices into its fleet (security review, finding 5). */
@ApiTags('enrollment')
@ApiBearerAuth()
@Controller('api/v1/enrollment-grants')
export class EnrollmentGrantsController {
  constructor(private readonly grants: EnrollmentGrantsService) {}

  @Post()
  @Roles('operator')
  create(@CurrentPrincipal() p: Principal, @Body() dto: CreateEnrollmentGrantDto) {
    return this.grants.create(p, dto);
  }

  @Get()
  @Roles('operator', 'manufacturer', 'auditor')
  list(@CurrentPrincipal() p: Principal) {
    return this.grants.list(p);
  }

  @Delete(':grantId')
  @Roles('operator')
  @HttpCode(204)
  async withdraw(@CurrentPrincipal() p: Principal, @Param('grantId', new ParseUUIDPipe()) grantId: string) {
    await this.grants.withdraw(p, grantId);
  }
}

/** Device listener: enrollment with a token, JSON. */
@ApiTags('device')
@Public()
@DeviceListener()
@Controller()
export class EnrollmentController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post('enroll')
  @HttpCode(201)
  enroll(@Body() dto: EnrollDto) {
    // The plain bodies most devices send are answered before Nest's router (enrollment.fast-route.ts), the same way.
    return this.enrollment.enrollRequest(dto);
  }
}

/**
 * EST (RFC 7030) on the device listener: base64 DER bodies with the RFC's content types, so curl
 * and openssl act as a client. The optional label (`/.well-known/est/<productId>/...`) names the
 * product; a token of another product is refused.
 */
/** EST_REALM: the realm every EST 401 names (RFC 7030 3.2.3, RFC 7617); libest needs the challenge to send credentials. */
export const EST_REALM = 'fleetguard-est';

/** The service's error mapping, plus the `WWW-Authenticate: Basic` challenge on every EST 401 (RFC 7235 3.1). */
@Catch()
export class EstExceptionFilter extends AllExceptionsFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (!res.headersSent && toErrorBody(exception).statusCode === 401) res.setHeader('WWW-Authenticate', `Basic realm="${EST_REALM}", charset="UTF-8"`);
    super.catch(exception, host);
  }
}

@ApiTags('device')
@Public()
@DeviceListener()
@UseFilters(EstExceptionFilter)
@Controller('.well-known/est')
export class EstController {
  constructor(
    private readonly enrollment: EnrollmentService,
    private readonly ca: CaService,
  ) {}

  @Get(['cacerts', ':label/cacerts'])
  cacerts(@Res() res: Response) {
    // Every issuing CA still in use (current first: after a rollover both), then the root.
    const certs = [...this.ca.generations].reverse().map((g) => g.authority.intermediateCertPem).concat(this.ca.ca.rootCertPem).map((pem) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    sendEst(res, EST_CONTENT_TYPES.cacerts, toPkcs7CertsOnly(certs));
  }

  @Get(['csrattrs', ':label/csrattrs'])
  csrattrs(@Res() res: Response) {
    sendEst(res, EST_CONTENT_TYPES.csrattrs, buildCsrAttrs());
  }

  @Post(['simpleenroll', ':label/simpleenroll'])
  async simpleenroll(@Req() req: Request, @Res() res: Response, @Param('label') label?: string) {
    const token = basicPassword(req);
    if (label !== undefined && !/^[0-9a-f-]{36}$/.test(label)) throw invalid('est.bad-label', 'the EST label is the product id (a UUID)');
    const csr = await this.enrollment.checkCsr(estDecodeBody(await readSmallBody(req)));
    const r = await this.enrollment.enroll({ token, csr, productId: label, channel: 'est' });
    res.status(200);
    sendEst(res, EST_CONTENT_TYPES.certsOnly, toPkcs7CertsOnly([pemToDer(r.certificate)]));
  }

  @Post(['simplereenroll', ':label/simplereenroll'])
  @UseGuards(DeviceCertificateGuard)
  @AllowExpiredWithinGrace()
  async simplereenroll(@Req() req: Request & { device: DeviceIdentity }, @Res() res: Response) {
    const csr = await this.enrollment.checkCsr(estDecodeBody(await readSmallBody(req)));
    const r = await this.enrollment.reenroll(req.device, csr);
    res.status(200);
    sendEst(res, EST_CONTENT_TYPES.certsOnly, toPkcs7CertsOnly([pemToDer(r.certificate)]));
  }
}

/** The RFC's content type exactly: a Buffer body, so Express adds no `; charset=`. */
function sendEst(res: Response, contentType: string, der: Buffer) {
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Transfer-Encoding', 'base64');
  res.end(Buffer.from(estBase64Encode(der), 'latin1'));
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

/** EST simpleenroll authenticates with HTTP Basic; the password is the enrollment token (the user name is ignored). */
function basicPassword(req: Request): string {
  const credentials = (req.headers.authorization?.length ?? 0) <= 2048 ? basicAuth(req) : undefined;
  if (!credentials?.pass) throw new DomainError('est.no-credentials', 'EST simpleenroll needs HTTP Basic credentials with the enrollment token as password', 'unauthorized');
  return credentials.pass;
}
