import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '@fleetguard/auth';
import { AnyListener } from '@fleetguard/platform';
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

  @Get('crl.pem')
  @Header('Content-Type', 'application/x-pem-file')
  crlPem() {
    return this.crl.pem();
  }
}
