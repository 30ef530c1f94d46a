import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { CertificateEntity } from '../entities/certificate.entity';
import {
  buildOcspResponse,
  OcspAnswer,
  OcspCertStatus,
  ocspErrorResponse,
  OcspRequestError,
  OCSPResponseStatus,
  parseOcspRequest,
  serialForIssuer,
} from '../core/ocsp.responder';
import { parseRevocationReason } from '../core/revocation-reason.codec';
import { CaService } from './ca.service';

/**
 * Answers OCSP requests from the certificates table: a serial of ours that is revoked is
 * `revoked` (time, reason), any other of ours `good`, a serial we never issued or another
 * issuer's CertID `unknown`. Responses are signed by the issuing CA and valid as long as a CRL.
 */
@Injectable()
export class OcspService {
  private readonly logger = new Logger('OCSP');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ca: CaService,
  ) {}

  /** Always a DER OCSPResponse: a bad request gets malformedRequest, a failure internalError. */
  async respond(requestDer: Buffer): Promise<Buffer> {
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (e) {
      // parseOcspRequest throws nothing but OcspRequestError; anything else is still the request's fault.
      const status = e instanceof OcspRequestError ? e.status : OCSPResponseStatus.malformedRequest;
      this.logger.debug(`refused OCSP request: ${(e as Error)?.message}`);
      return ocspErrorResponse(status);
    }
    try {
      // The CertIDs name their issuer: the response is signed by the issuing CA the first known one names.
      const issuers = this.ca.ocspIssuers;
      const matchOf = (certId: (typeof request.certIds)[number]) => {
        for (const i of issuers) {
          const serial = serialForIssuer(certId, i.issuer);
          if (serial !== undefined) return { serial, generation: i.generation, issuer: i.issuer };
        }
        return undefined;
      };
      const matches = request.certIds.map(matchOf);
      const signing = matches.find((m) => m)?.issuer ?? issuers[0].issuer;
      const serials = matches.map((m) => (m && m.issuer === signing ? m.serial : undefined));
      const known = serials.filter((s): s is string => s !== undefined);
      const rows = known.length
        ? await this.ds.getRepository(CertificateEntity).find({ where: { serial: In(known) }, select: { serial: true, status: true, revokedAt: true, revocationReason: true } })
        : [];
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      const answers: OcspAnswer[] = request.certIds.map((certId, i) => ({ certId, status: statusOf(serials[i] === undefined ? undefined : bySerial.get(serials[i]!)) }));
      return await buildOcspResponse(signing, answers, { nonceExtnValue: request.nonceExtnValue, validityMs: this.config.crlValidityHours * 3600_000 });
    } catch (e) {
      this.logger.error(`OCSP response failed: ${(e as Error).message}`);
      return ocspErrorResponse(OCSPResponseStatus.internalError);
    }
  }
}

function statusOf(row: Pick<CertificateEntity, 'status' | 'revokedAt' | 'revocationReason'> | undefined): OcspCertStatus {
  if (!row) return { status: 'unknown' };
  if (row.status === 'revoked') return { status: 'revoked', revokedAt: row.revokedAt ?? new Date(0), reason: parseRevocationReason(row.revocationReason ?? 'unspecified') };
  return { status: 'good' };
}
