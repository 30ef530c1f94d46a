import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, DomainError } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter } from '@fleetguard/platform';
import { DeviceCertificateAuthenticator } from './device-certificate.authenticator';

export interface DeviceIdentity {
  deviceId: string;
  serialHex: string;
  notAfter: Date;
  expired: boolean;
  /** Read when asked for (exported from the certificate then). */
  readonly publicKeySpkiDer: Buffer;
}

const ALLOW_GRACE = 'fleetguard:allow-expired-within-grace';
/** Accept a client certificate expired within the renewal grace period (EST simplereenroll only). */
export const AllowExpiredWithinGrace = () => SetMetadata(ALLOW_GRACE, true);

const refusals = counter('fleetguard_device_http_refusals_total', 'Device HTTPS requests refused for their client certificate', ['reason']);

/**
 * The device listener asks for a client certificate but does not require one at the TLS layer
 * (enrollment has none yet). Routes under this guard need one: issued by our CA, in validity,
 * device profile, and not revoked according to the status service (DeviceCertificateAuthenticator,
 * the check the MQTT broker makes too).
 */
@Injectable()
export class DeviceCertificateGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: DeviceCertificateAuthenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest();
    const grace = this.reflector.get<boolean>(ALLOW_GRACE, ctx.getHandler()) ? this.config.renewalGraceDays * 86400 : 0;
    const auth = await this.authenticator.authenticate(req.socket, grace);
    if (!auth.ok) {
      if (auth.reason === 'no-certificate') {
        refusals.inc({ reason: 'no-certificate' });
        throw new DomainError('device.no-certificate', 'this route needs a device client certificate (mutual TLS)', 'unauthorized');
      }
      if (auth.reason === 'bad-certificate') {
        refusals.inc({ reason: auth.error instanceof DomainError ? auth.error.code : 'invalid' });
        throw auth.error;
      }
      refusals.inc({ reason: auth.state });
      throw new DomainError(`device.certificate-${auth.state}`, refusalMessage[auth.state], 'unauthorized');
    }
    const verified = auth.certificate;
    const identity: DeviceIdentity = {
      deviceId: verified.deviceId,
      serialHex: verified.serialHex,
      notAfter: verified.notAfter,
      expired: verified.expired,
      get publicKeySpkiDer() {
        return verified.publicKeySpkiDer;
      },
    };
    req.device = identity;
    return true;
  }
}

const refusalMessage = {
  revoked: 'the client certificate is revoked',
  unknown: 'the client certificate is not known to this service',
  expired: 'the client certificate has expired',
} as const;
