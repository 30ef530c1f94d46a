import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '@fleetguard/auth';
import { AnyListener } from '@fleetguard/platform';
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
  ) {}

  @Get('ca')
  @Header('Content-Type', 'application/x-pem-file')
  chain() {
    return this.ca.chainPem;
  }

  @Get('crl')
  async crlDer(@Res() res: Response) {
    res.type('application/pkix-crl').send(await this.crl.der());
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
