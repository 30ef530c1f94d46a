import { Controller, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { DomainError } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { CORIM_MAX_BYTES } from '../core/corim.parser';
import { PsaService } from './psa.service';

async function readBody(req: Request, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DomainError('body.too-large', `a CoRIM is limited to ${limit} bytes`, 'too-large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** CoRIM import (SPEC "Reference values and policies"): PSA reference triples and attest-key triples. */
@ApiTags('products')
@ApiBearerAuth()
@Controller('api/v1/products/:id')
export class CorimController {
  constructor(private readonly psa: PsaService) {}

  @Post('corim')
  @Roles('manufacturer')
  @HttpCode(201)
  @ApiConsumes('application/rim+cbor', 'application/rim+cose')
  async import(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Req() req: Request) {
    const signed = req.is('application/rim+cose') ? true : req.is('application/rim+cbor') ? false : null;
    if (signed === null) throw new DomainError('corim.bad-content-type', 'send the CoRIM as application/rim+cbor (unsigned, tag 501) or application/rim+cose (COSE_Sign1)', 'unsupported');
    return this.psa.importCorim(p, id, await readBody(req, CORIM_MAX_BYTES), signed);
  }
}
