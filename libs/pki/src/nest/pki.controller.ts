import { Controller, Get, Header, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { notFound } from '@fleetguard/common';
import type { Request } from 'express';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { MAX_OCSP_REQUEST_BYTES, OCSP_CONTENT_TYPES, ocspErrorResponse, OCSPResponseStatus } from '../core/ocsp.responder';
import { OcspService } from './ocsp.service';
import { Public } from '@fleetguard/auth/nest';
import { AnyListener } from '@fleetguard/platform/nest';
import { pemEncode } from '../core/der-input.codec';
import { CaService } from './ca.service';
import { CrlService } from './crl.service';

/** The CA chain and the CRL, open to anyone on every listener (devices and relying parties fetch them). */
@ApiTags('pki')
@Public()
@AnyListener()
@Controller('pki')
export class PkiController {
  constructor(
    private readonly ca: CaService,
    private readonly crl: CrlService,
    private readonly ocsp: OcspService,
  ) {}

  /** OCSP over POST (RFC 6960 A.1): the DER request as the body. Every answer is a DER OCSPResponse. */
  @Post('ocsp')
  @HttpCode(200)
  async ocspPost(@Req() req: Request, @Res() res: Response) {
    const body = await readLimited(req, MAX_OCSP_REQUEST_BYTES);
    sendOcsp(res, body ? await this.ocsp.respond(body) : ocspErrorResponse(OCSPResponseStatus.malformedRequest));
  }

  /** OCSP over GET (RFC 6960 A.1): the URL-encoded base64 of the DER request after /pki/ocsp/. */
  @Get('ocsp/*request')
  async ocspGet(@Req() req: Request, @Res() res: Response) {
    const encoded = req.path.slice(req.path.indexOf('/ocsp/') + '/ocsp/'.length);
    let b64: string;
    try {
      b64 = decodeURIComponent(encoded);
    } catch {
      b64 = '';
    }
    const ok = b64.length > 0 && b64.length <= (MAX_OCSP_REQUEST_BYTES * 4) / 3 + 4 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64);
    sendOcsp(res, ok ? await this.ocsp.respond(Buffer.from(b64, 'base64')) : ocspErrorResponse(OCSPResponseStatus.malformedRequest));
  }

  @Get('ca')
  @Header('Content-Type', 'application/x-pem-file')
  chain() {
    return this.ca.chainPem;
  }

  @Get('crl')
  async crlDer(@Res() res: Response) {
    res.type('application/pkix-crl').send(await this.crl.der(1));
  }

  /** The CRL of a later issuing CA (rollover): the distribution point its certificates name. */
  @Get('crl/:generation')
  async generationCrl(@Param('generation') generation: string, @Res() res: Response) {
    const pem = generation.endsWith('.pem');
    const n = /^[1-9][0-9]{0,5}(\.pem)?$/.test(generation) ? Number.parseInt(generation, 10) : NaN;
    const der = Number.isNaN(n) ? undefined : await this.crl.der(n);
    if (!der) throw notFound('pki.no-such-ca', `no issuing CA generation ${generation.slice(0, 20)}`);
    if (pem) res.type('application/x-pem-file').send(pemEncode(der, 'X509 CRL'));
    else res.type('application/pkix-crl').send(der);
  }

  /** The root's CRL (revoked issuing CAs), named in the issuing CA certificate's CRL distribution point. */
  @Get('root-crl')
  async rootCrlDer(@Res() res: Response) {
    res.type('application/pkix-crl').send(await this.ca.rootCrlDer());
  }

  @Get('root-crl.pem')
  @Header('Content-Type', 'application/x-pem-file')
  async rootCrlPem() {
    return pemEncode(await this.ca.rootCrlDer(), 'X509 CRL');
  }

  @Get('crl.pem')
  @Header('Content-Type', 'application/x-pem-file')
  crlPem() {
    return this.crl.pem();
  }
}

function sendOcsp(res: Response, der: Buffer) {
  res.status(200).setHeader('Content-Type', OCSP_CONTENT_TYPES.response);
  res.setHeader('Cache-Control', 'no-store');
  res.end(der);
}

/** The raw body, or undefined when it is above the limit (the rest is drained, not buffered). */
async function readLimited(req: Request, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size <= limit ? Buffer.concat(chunks) : undefined;
}
