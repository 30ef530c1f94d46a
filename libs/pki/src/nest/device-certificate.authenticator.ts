import { Injectable } from '@nestjs/common';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { VerifiedDeviceCertificate } from '../core/device-certificate.check';
import { CaService } from './ca.service';
import { CertificateStatusService, type CertState } from './certificate-status.service';

/** What the client certificate a TLS socket presented is: ours (verified), not acceptable (why), or absent. */
export type PeerCertificate = { verified: VerifiedDeviceCertificate } | { refused: unknown } | { absent: true };

type RefusedState = Exclude<CertState, 'valid'>;
/** A verified certificate's standing: accepted, or the state that refuses it. */
export type CertificateStanding = { ok: true; certificate: VerifiedDeviceCertificate } | { ok: false; reason: `certificate-${RefusedState}`; state: RefusedState };
/** Why a device certificate is not accepted, or the device it names. */
export type DeviceAuthentication = CertificateStanding | { ok: false; reason: 'no-certificate' } | { ok: false; reason: 'bad-certificate'; error: unknown };

/**
 * The one check of a device's client certificate, for every device-facing listener (MQTT over
 * TLS, device HTTPS): the certificate the socket presented, verified against the device CAs of
 * every issuing generation (issuer, signature, device profile, validity), then its standing in the
 * certificate status cache (revoked anywhere, or unknown here: refused). `graceSeconds` accepts a
 * certificate that expired that long ago (EST renewal); otherwise an expired one is refused.
 */
@Injectable()
export class DeviceCertificateAuthenticator {
  /** inspectOnce()'s answers: a connection's certificate is checked once, when its handshake ends. */
  private readonly peers = new WeakMap<Socket, PeerCertificate>();

  constructor(
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
  ) {}

  /** The certificate and its standing: what a request or a connection may go on with. */
  async authenticate(socket: Socket, graceSeconds = 0): Promise<DeviceAuthentication> {
    const peer = this.inspect(socket, graceSeconds);
    if ('absent' in peer) return { ok: false, reason: 'no-certificate' };
    if ('refused' in peer) return { ok: false, reason: 'bad-certificate', error: peer.refused };
    return this.standing(peer.verified, graceSeconds);
  }

  /**
   * The certificate a socket presented, verified now (the CA remembers a certificate it has
   * checked, and at boot every valid one it issued, so a device's next request or connection does
   * not parse it again). The DER from getPeerCertificate(false), measured in a reconnect storm's
   * profile (Node 20, OpenSSL 3.0): about 0.15 ms a connection, against 0.22 ms for
   * getPeerX509Certificate, which copies every certificate of the chain the device sent (each copy
   * decodes its key again through OpenSSL 3's decoders).
   */
  inspect(socket: Socket, graceSeconds = 0): PeerCertificate {
    const der = typeof (socket as TLSSocket).getPeerCertificate === 'function' ? (socket as TLSSocket).getPeerCertificate(false)?.raw : undefined;
    if (!der) return { absent: true };
    try {
      return { verified: this.ca.verifyDeviceCertificate(der, { graceSeconds }) };
    } catch (e) {
      return { refused: e };
    }
  }

  /** inspect() once per socket (MQTT: the TLS admission and the CONNECT both ask, right after the handshake). */
  inspectOnce(socket: Socket): PeerCertificate {
    let p = this.peers.get(socket);
    if (!p) {
      p = this.inspect(socket);
      this.peers.set(socket, p);
    }
    return p;
  }

  /** A verified certificate's standing in the status cache (the database on a miss). */
  async standing(certificate: VerifiedDeviceCertificate, graceSeconds = 0): Promise<CertificateStanding> {
    const state = await this.status.status(certificate.serialHex);
    if (state === 'valid' || (state === 'expired' && graceSeconds > 0)) return { ok: true, certificate };
    return { ok: false, reason: `certificate-${state}`, state };
  }
}
