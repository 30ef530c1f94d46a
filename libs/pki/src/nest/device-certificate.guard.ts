import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { TLSSocket } from 'node:tls';
import { AppConfig, DomainError } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter } from '@fleetguard/platform';
import { CaService } from './ca.service';
import { CertificateStatusService } from './certificate-status.service';

export interface DeviceIdentity {
  deviceId: string;
  serialHex: string;
  notAfter: Date;
  expired: boolean;
  publicKeySpkiDer: Buffer;
}

const ALLOW_GRACE = 'fleetguard:allow-expired-within-grace';
/** Accept a client certificate expired within the renewal grace period (EST simplereenroll only). */
export const AllowExpiredWithinGrace = () => SetMetadata(ALLOW_GRACE, true);

const refusals = counter('fleetguard_device_http_refusals_total', 'Device HTTPS requests refused for their client certificate', ['reason']);

/**
 * The device listener asks for a client certificate but does not require one at the TLS layer
 * (enrollment has none yet). Routes under this guard need one: issued by our CA, in validity,
 * device profile, and not revoked according to the status service.
 */
@Injectable()
export class DeviceCertificateGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest();
    const socket = req.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
    if (!peer || !peer.raw) {
      refusals.inc({ reason: 'no-certificate' });
      throw new DomainError('device.no-certificate', 'this route needs a device client certificate (mutual TLS)', 'unauthorized');
    }
    const grace = this.reflector.get<boolean>(ALLOW_GRACE, ctx.getHandler()) ? this.config.renewalGraceDays * 86400 : 0;
    let verified;
    try {
      verified = this.ca.verifyDeviceCertificate(peer.raw, { graceSeconds: grace });
    } catch (e) {
      refusals.inc({ reason: e instanceof DomainError ? e.code : 'invalid' });
      throw e;
    }
    const state = await this.status.status(verified.serialHex);
    if (state === 'revoked' || state === 'unknown') {
      refusals.inc({ reason: state });
      throw new DomainError(`device.certificate-${state}`, state === 'revoked' ? 'the client certificate is revoked' : 'the client certificate is not known to this service', 'unauthorized');
    }
    const identity: DeviceIdentity = { deviceId: verified.deviceId, serialHex: verified.serialHex, notAfter: verified.notAfter, expired: verified.expired, publicKeySpkiDer: verified.publicKeySpkiDer };
    req.device = identity;
    return true;
  }
}
