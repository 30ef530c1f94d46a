import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { MeterVerdict, MqttLengthMeter, PacketLimits } from '../core/mqtt-length.guard';

/** Room above the payload limit for a PUBLISH's topic, message id and properties. */
export const PACKET_HEADROOM = 4096;
/** A CONNECT carries a client id, a small will and no credentials we use: 16 KiB is plenty. */
export const MAX_CONNECT = 16_384;
/** Concurrent connections one device certificate may hold (a reconnect overlaps the old socket). */
export const MAX_CONNECTIONS_PER_CERTIFICATE = 3;
/** A client that has not finished the TLS handshake by then is dropped (Node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export function packetLimits(maxPayload: number): PacketLimits {
  return { maxPacket: maxPayload + PACKET_HEADROOM, maxConnect: Math.min(MAX_CONNECT, maxPayload + PACKET_HEADROOM) };
}

export interface ConnectionGuardDeps {
  limits: PacketLimits;
  /** The serial (hex) of the device certificate the socket presented, or null if it is not one of ours. */
  serialOf(socket: tls.TLSSocket): string | null;
  isRevoked(serialHex: string): boolean;
  refuse(reason: string, deviceId: string | null, message: string): void;
  maxPerCertificate?: number;
}

/**
 * What happens to a device connection before aedes sees a byte of it: at the end of the TLS
 * handshake a revoked certificate, or one already holding its share of connections, is dropped;
 * then every packet's fixed header is read as it arrives and a packet over the limit drops the
 * connection before its body is buffered.
 */
export class ConnectionGuard {
  private readonly perCertificate = new Map<string, number>();
  private readonly maxPerCertificate: number;

  constructor(private readonly deps: ConnectionGuardDeps) {
    this.maxPerCertificate = deps.maxPerCertificate ?? MAX_CONNECTIONS_PER_CERTIFICATE;
  }

  /** For a TLS socket whose handshake just completed: false (and the socket destroyed) if refused. */
  admitTls(socket: tls.TLSSocket): boolean {
    const serial = this.deps.serialOf(socket);
    if (!serial) return true; // not one of ours: the MQTT authentication refuses it with its reason
    if (this.deps.isRevoked(serial)) {
      this.deps.refuse('certificate-revoked', null, `certificate ${serial} is revoked (refused at the TLS handshake)`);
      socket.destroy();
      return false;
    }
    const n = this.perCertificate.get(serial) ?? 0;
    if (n >= this.maxPerCertificate) {
      this.deps.refuse('connections-per-certificate', null, `certificate ${serial} already holds ${n} connections`);
      socket.destroy();
      return false;
    }
    this.perCertificate.set(serial, n + 1);
    socket.once('close', () => {
      const left = (this.perCertificate.get(serial) ?? 1) - 1;
      if (left <= 0) this.perCertificate.delete(serial);
      else this.perCertificate.set(serial, left);
    });
    return true;
  }

  /**
   * Meters a socket aedes has just started to read. aedes reads in paused mode ('readable' +
   * read()); a 'data' listener added after it does not switch the stream to flowing mode, it sees
   * each chunk as aedes reads it (Node: "'readable' takes precedence in controlling the flow").
   * A refused packet destroys the socket in that same tick, before the parser is handed more.
   */
  meter(socket: net.Socket): void {
    const meter = new MqttLengthMeter(this.deps.limits);
    const onData = (chunk: Buffer) => {
      const v: MeterVerdict = meter.feed(chunk);
      if (!v.ok) {
        socket.off('data', onData);
        this.deps.refuse(v.reason, null, v.message);
        socket.destroy();
      }
    };
    socket.on('data', onData);
  }

  /** How many certificates hold connections (for tests and metrics). */
  get certificatesConnected(): number {
    return this.perCertificate.size;
  }
}
