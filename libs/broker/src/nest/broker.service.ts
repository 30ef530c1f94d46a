import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { constants } from 'node:crypto';
import { Aedes } from 'aedes';
import Redis from 'ioredis';
import mqemitterRedis from 'mqemitter-redis';
import redisPersistence from 'aedes-persistence-redis';
import { AppConfig, DomainError, isDatabaseUnavailable, InboundKind, OutboundKind, deviceTopic } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform/nest';
import { counter, gauge, listen } from '@fleetguard/platform';
import { CaService, CertificateStatusService, DeviceCertificateAuthenticator } from '@fleetguard/pki/nest';
import { FleetEventBus } from '@fleetguard/events';
import { ConnectionGuard, TLS_HANDSHAKE_TIMEOUT_MS, packetLimits } from './connection.guard';
import { ConnectAdmission } from '../core/connect-admission';
import { RepeatThrottle } from '../core/repeat-throttle';
import { checkPublish, checkSubscribe } from '../core/topic-acl';
import { writePromptly } from '../core/write-coalescing';
import { InboundDispatcher } from './inbound.dispatcher';

/** What a device's accepted connection negotiated (`protocol` as Node names it: `TLSv1.3`; `cipher` its OpenSSL/IANA name). */
export interface DeviceConnection {
  deviceId: string;
  protocol: string | null;
  cipher: string | null;
  /** The device authenticated with a client certificate from our device CA. */
  mutualTls: boolean;
}

const rejections = counter('fleetguard_mqtt_rejections_total', 'MQTT connections, publishes and subscriptions refused, by reason', ['reason']);
const connected = gauge('fleetguard_mqtt_connected_devices', 'Devices connected to the embedded broker');
const handshakes = gauge('fleetguard_mqtt_tls_handshakes_in_progress', 'MQTT TLS handshakes admitted and not yet finished');
const handshakesWaiting = gauge('fleetguard_mqtt_tls_handshakes_waiting', 'MQTT connections waiting for a TLS handshake slot (not read from yet)');

const REFUSAL_LOG_WINDOW_MS = 10_000;

interface DeviceClient {
  id: string;
  conn: net.Socket | tls.TLSSocket;
  close(cb?: () => void): void;
  fleetguard?: { serialHex: string };
}

/**
 * The embedded MQTT broker (aedes) on a TLS listener that requires a device certificate from our
 * CA. The client id must equal the certificate CN; a revoked certificate is refused at connect
 * and a connected device whose certificate is revoked is dropped. Devices publish and subscribe
 * only under their own id (topic-acl.ts). A device's publish to an inbound topic is acknowledged
 * (QoS 1 PUBACK) only after its handler has durably recorded it: the broker authenticates and
 * authorizes, the InboundDispatcher hands the message to the handler its owner lib marked
 * `@MqttInbound(kind)`.
 */
@Injectable()
export class BrokerService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Broker');
  private aedes!: Aedes;
  private server?: tls.Server;
  /** The TCP listener in front of the TLS one: connections are admitted here (rate, handshakes) before TLS. */
  private front?: net.Server;
  private plainServer?: net.Server;
  /** Every connection the listeners accepted and did not refuse, until it closes: a shutdown ends them (a Set: O(1) per connect and close). */
  private readonly sockets = new Set<net.Socket>();
  private admissionSweep?: NodeJS.Timeout;
  private admission?: ConnectAdmission;
  private readonly refusalLog = new RepeatThrottle(REFUSAL_LOG_WINDOW_MS);
  private readonly readyListeners: Array<(deviceId: string) => void> = [];
  private readonly pkiReadyListeners: Array<(deviceId: string) => void> = [];
  private readonly duplicates = new Map<string, { at: Date; count: number }>();
  private readonly goneListeners: Array<(deviceId: string) => void> = [];
  private readonly connectedListeners: Array<(c: DeviceConnection) => void> = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
    private readonly authenticator: DeviceCertificateAuthenticator,
    private readonly cluster: ClusterBus,
    private readonly events: FleetEventBus,
    private readonly inbound: InboundDispatcher,
  ) {}

  /** Called when a device has subscribed to its challenge topic (it can now be challenged). */
  onDeviceReady(listener: (deviceId: string) => void): void {
    this.readyListeners.push(listener);
  }

  onDeviceGone(listener: (deviceId: string) => void): void {
    this.goneListeners.push(listener);
  }

  /** Called when a device's connection is accepted, with the TLS it negotiated. */
  onDeviceConnected(listener: (c: DeviceConnection) => void): void {
    this.connectedListeners.push(listener);
  }

  /** A device subscribed to its `pki` topic (the re-key notice is sent again then). */
  onDevicePkiReady(listener: (deviceId: string) => void): void {
    this.pkiReadyListeners.push(listener);
  }

  /** Live connections with the serial of the certificate each presented (for the certificate audit). */
  connections(): Array<{ deviceId: string; serialHex: string | null }> {
    return Object.values(this.clients()).map((c) => ({ deviceId: c.id, serialHex: c.fleetguard?.serialHex ?? null }));
  }

  /** Client ids a second connection came with while the first was connected (last 24 hours, this instance). */
  duplicateClientIds(): Array<{ deviceId: string; at: Date; count: number }> {
    const since = Date.now() - 86_400_000;
    for (const [id, d] of this.duplicates) if (d.at.getTime() < since) this.duplicates.delete(id);
    return [...this.duplicates].map(([deviceId, d]) => ({ deviceId, at: d.at, count: d.count }));
  }

  /** Connected to this instance's broker. */
  isConnected(deviceId: string): boolean {
    return !!this.clients()[deviceId];
  }

  /** Connected to any instance of the fleet (this one, or another per the presence in Redis). */
  async isConnectedAnywhere(deviceId: string): Promise<boolean> {
    return this.isConnected(deviceId) || (await this.cluster.instanceOf(deviceId)) !== null;
  }

  connectedDevices(): string[] {
    return Object.keys(this.clients());
  }

  private clients(): Record<string, DeviceClient> {
    return ((this.aedes as unknown as { clients?: Record<string, DeviceClient> })?.clients) ?? {};
  }

  publishToDevice(deviceId: string, kind: OutboundKind, payload: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish(
        { cmd: 'publish', topic: deviceTopic(deviceId, kind), payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: false, dup: false } as never,
        (err?: Error) => (err ? reject(err) : resolve()),
      );
    });
  }

  disconnect(deviceId: string, reason: string): void {
    const client = this.clients()[deviceId];
    if (client) {
      this.logger.warn(`disconnecting ${deviceId}: ${reason}`);
      client.close();
    }
  }

  async onModuleInit(): Promise<void> {
    // Several instances (FLEETGUARD_REDIS_URL): messages go through Redis to whichever instance
    // holds the device's connection, sessions and in-flight QoS 1 live in Redis, and aedes's
    // "$SYS/<broker>/new/clients" announcement closes a device's older connection on another
    // instance, so one device holds one session fleet-wide.
    const redis = this.config.redisUrl;
    const clusterOptions = redis
      ? { id: this.cluster.instanceId, mq: mqemitterRedis({ connectionString: redis }), persistence: redisPersistence({ conn: new Redis(redis), maxSessionDelivery: 100, packetTTL: () => 3600 }) }
      : {};
    this.aedes = await Aedes.createBroker({ maxClientsIdLength: 64, maxTopicLevels: 8, drainTimeout: 10_000, connectTimeout: 10_000, ...clusterOptions } as never);
    // A database that cannot answer the certificate lookup: CONNACK 3 (server unavailable), so the device backs off.
    this.aedes.authenticate = (client, _u, _p, cb) =>
      void this.authenticate(client as unknown as DeviceClient).then(
        (e) => cb(e as never, !e),
        (e) => cb(Object.assign(e instanceof Error ? e : new Error(String(e)), isDatabaseUnavailable(e) ? { returnCode: 3 } : {}) as never, false),
      );
    this.aedes.authorizePublish = (client, packet, cb) => void this.authorizePublish(client as unknown as DeviceClient | null, packet as unknown as { topic: string; payload: Buffer; qos: number }).then(cb, cb);
    this.aedes.authorizeSubscribe = (client, sub, cb) => {
      const v = checkSubscribe((client as unknown as DeviceClient).id, sub.topic);
      if (!v.ok) {
        this.refuse('subscribe-acl', (client as unknown as DeviceClient).id, v.reason);
        return cb(null, null as never);
      }
      cb(null, sub);
    };
    // Devices only talk to the service: nothing a device publishes is forwarded to other clients.
    this.aedes.authorizeForward = (_client, packet) => (packet.topic.endsWith('/challenge') || packet.topic.endsWith('/result') || packet.topic.endsWith('/pki') ? packet : (null as never));
    this.aedes.on('subscribe', (subs, client) => {
      if (client && subs.some((s) => s.topic === deviceTopic(client.id, 'challenge'))) for (const l of this.readyListeners) l(client.id);
      if (client && subs.some((s) => s.topic === deviceTopic(client.id, 'pki'))) for (const l of this.pkiReadyListeners) l(client.id);
    });
    // aedes keeps the count itself: O(1) per connect and disconnect (counting the clients froze a mass disconnect).
    this.aedes.on('client', (client) => {
      connected.set(this.aedes.connectedClients);
      this.cluster.notePresent(client.id);
    });
    this.aedes.on('clientDisconnect', (client) => {
      connected.set(this.aedes.connectedClients);
      this.cluster.noteGone(client.id);
      for (const l of this.goneListeners) l(client.id);
    });
    this.aedes.on('clientError', (client, err) => this.logger.debug(`client ${client?.id}: ${err.message}`));
    this.aedes.on('connectionError', (client, err) => this.logger.debug(`connection ${client?.id}: ${err.message}`));
    this.events.on('certificate.revoked', ({ deviceId }) => this.disconnect(deviceId, 'certificate revoked'));
  }

  /** Starts the TLS listener (and the plain one, if configured); returns the bound ports. */
  async listen(host: string): Promise<{ tls: number; plain?: number }> {
    const t = this.ca.serverTls;
    const guard = new ConnectionGuard({
      limits: packetLimits(this.config.mqttMaxPayload),
      serialOf: (socket) => {
        const p = this.authenticator.inspectOnce(socket);
        return 'verified' in p ? p.verified.serialHex : null;
      },
      isRevoked: (serial) => this.status.isRevoked(serial),
      refuse: (reason, deviceId, message) => this.refuse(reason, deviceId, message),
    });
    const track = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    };
    const handle = (socket: net.Socket) => {
      writePromptly(socket);
      this.aedes.handle(socket as never);
      guard.meter(socket);
    };
    this.server = tls.createServer(
      { key: t.key, cert: t.cert, ca: t.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, secureOptions: this.config.mqttTlsTickets ? 0 : constants.SSL_OP_NO_TICKET },
      (socket) => guard.admitTls(socket) && handle(socket),
    );
    // With a 'tlsClientError' listener Node leaves the socket open (even after the handshake
    // timeout): a client that never finished its handshake would hold its connection for good.
    this.server.on('tlsClientError', (err, socket) => {
      this.refuse('tls', null, err.message);
      socket.destroy();
    });
    // After an issuing CA rollover: the new server certificate, and devices of every CA trusted.
    this.ca.onTlsChanged((n) => this.server?.setSecureContext({ key: n.key, cert: n.cert, ca: n.ca, minVersion: 'TLSv1.2' }));
    // Admission before TLS: a refused connection costs an accept and a close, not a handshake;
    // one waiting for a slot or a token is not read from (pauseOnConnect) until its handshake starts.
    const admission = (this.admission = new ConnectAdmission({
      ratePerSecond: this.config.mqttConnectRate,
      burst: this.config.mqttConnectRate,
      maxHandshakes: this.config.mqttMaxHandshakes,
      maxWaiting: this.config.mqttHandshakeQueue,
      maxWaitMs: this.config.mqttHandshakeWaitSeconds * 1000,
    }));
    const showAdmission = () => {
      handshakes.set(admission.handshakesInProgress);
      handshakesWaiting.set(admission.handshakesWaiting);
    };
    this.admissionSweep = setInterval(() => (admission.sweep(), showAdmission()), 250);
    this.admissionSweep.unref();
    const inHandshake = new Map<string, () => void>();
    const tlsServer = this.server;
    tlsServer.prependListener('secureConnection', (socket: tls.TLSSocket) => inHandshake.get(`${socket.remoteAddress}|${socket.remotePort}`)?.());
    this.front = net.createServer({ pauseOnConnect: true }, (raw) => {
      // One connection per remote address and port at a time: the key finds it again when its TLS socket is secure.
      const key = `${raw.remoteAddress}|${raw.remotePort}`;
      const startTls = () => {
        if (raw.destroyed) return ticket?.settled();
        tlsServer.emit('connection', raw);
      };
      const { verdict, ticket } = admission.admit(startTls, () => {
        this.refuse('handshake-wait', null, `waited ${this.config.mqttHandshakeWaitSeconds} s for one of ${this.config.mqttMaxHandshakes} TLS handshake slots (at ${this.config.mqttConnectRate} a second)`);
        raw.destroy();
      });
      if (!verdict.ok) {
        this.refuse(verdict.reason, null, verdict.message);
        raw.destroy();
        return;
      }
      const settle = () => {
        if (inHandshake.get(key) === settle) inHandshake.delete(key);
        ticket!.settled();
        showAdmission();
      };
      inHandshake.set(key, settle);
      raw.once('close', settle);
      track(raw);
      showAdmission();
      if (!verdict.waiting) startTls();
    });
    this.front.maxConnections = this.config.mqttMaxConnections;
    this.front.on('drop', () => this.refuse('max-connections', null, `${this.config.mqttMaxConnections} MQTT connections already open`));
    // A reconnect storm's connections arrive in well under a second; past the accept queue
    // (Node's default 511) the kernel drops them and each client retransmits its SYN after 1, 2,
    // 4, 8 s: plateaus of seconds without a connection while the broker idles (measured). Every
    // waiting connection is meant to be accepted at once, so the queue is sized to the wait room.
    const backlog = Math.min(65_535, Math.max(511, this.config.mqttHandshakeQueue + this.config.mqttMaxHandshakes));
    const tlsPort = await listen(this.front, this.config.mqttPort, host, backlog);
    let plain: number | undefined;
    if (this.config.mqttPlainPort !== undefined) {
      this.plainServer = net.createServer((socket) => (track(socket), handle(socket)));
      plain = await listen(this.plainServer, this.config.mqttPlainPort, host);
      this.logger.warn(`plain-text MQTT enabled on port ${plain} (development only; devices are refused without a certificate)`);
    }
    return { tls: tlsPort, plain };
  }

  /** Counted always; logged once per reason (and device) every 10 s at most, with how many were left out. */
  private refuse(reason: string, deviceId: string | null, message: string): void {
    rejections.inc({ reason });
    const logged = this.refusalLog.admit(deviceId ? `${reason} ${deviceId}` : reason);
    if (!logged) return;
    this.logger.warn(`refused ${reason}${deviceId ? ` for ${deviceId}` : ''}: ${message}${logged.skipped ? ` (and ${logged.skipped} more like it in the last ${REFUSAL_LOG_WINDOW_MS / 1000} s)` : ''}`);
  }

  private async authenticate(client: DeviceClient): Promise<Error | null> {
    const socket = client.conn as tls.TLSSocket;
    const fail = (reason: string, message: string, returnCode = 5) => {
      this.refuse(reason, client.id, message);
      return Object.assign(new Error(message), { returnCode });
    };
    // The device certificate, verified once per socket (the TLS admission asked first).
    const peer = this.authenticator.inspectOnce(socket);
    if ('absent' in peer) return fail('no-certificate', 'a device client certificate is required');
    if ('refused' in peer) return fail('bad-certificate', peer.refused instanceof DomainError ? peer.refused.message : 'certificate not accepted');
    const verified = peer.verified;
    if (client.id !== verified.deviceId) return fail('client-id-mismatch', `client id '${client.id}' differs from the certificate CN '${verified.deviceId}'`, 2);
    if (this.clients()[client.id]) {
      const d = this.duplicates.get(client.id);
      this.duplicates.set(client.id, { at: new Date(), count: (d?.count ?? 0) + 1 });
      this.logger.warn(`client id ${client.id} connected again while connected (the earlier connection is taken over)`);
    }
    const standing = await this.authenticator.standing(verified);
    if (!standing.ok) return fail(standing.reason, `the certificate is ${standing.state}`);
    client.fleetguard = { serialHex: verified.serialHex };
    const cipher = socket.getCipher?.();
    const connection: DeviceConnection = { deviceId: client.id, protocol: socket.getProtocol?.() ?? null, cipher: cipher?.standardName ?? cipher?.name ?? null, mutualTls: true };
    for (const l of this.connectedListeners) l(connection);
    return null;
  }

  private async authorizePublish(client: DeviceClient | null, packet: { topic: string; payload: Buffer; qos: number }): Promise<Error | null> {
    if (!client) return null; // a will message published by the broker itself after a disconnect
    if (packet.qos === 2) {
      // QoS 2 keeps inbound state per session across reconnects; devices use QoS 1 (finding 3).
      this.refuse('qos2-refused', client.id, 'QoS 2 publishes are not accepted');
      return new Error('QoS 2 is not accepted');
    }
    const v = checkPublish(client.id, packet.topic);
    if (!v.ok) {
      this.refuse('publish-acl', client.id, v.reason);
      return new Error(v.reason);
    }
    if (client.fleetguard && this.status.isRevoked(client.fleetguard.serialHex)) {
      this.refuse('certificate-revoked', client.id, 'publish from a revoked certificate');
      return new Error('certificate revoked');
    }
    const size = packet.payload?.length ?? 0;
    if (size > this.config.mqttMaxPayload) {
      this.refuse('payload-too-large', client.id, `payload of ${size} bytes on ${v.kind} is over the ${this.config.mqttMaxPayload}-byte limit`);
      return new Error('payload too large');
    }
    const verdict = await this.inbound.dispatch(client.id, v.kind as InboundKind, packet.payload);
    if (!verdict.puback) return new Error(verdict.message);
    if (verdict.refusal) {
      // Read and refused: acknowledged, counted, logged and answered on the device's result topic.
      const { code, message } = verdict.refusal;
      this.refuse(`${v.kind}-${code}`, client.id, message);
      void this.publishToDevice(client.id, 'result', { error: { code, message, topic: v.kind } }).catch(() => undefined);
    }
    return null;
  }

  /**
   * A shutdown: no new connections, then every device's connection closed (aedes ends its
   * clients; connections still in their handshake or waiting for a slot are destroyed), so the
   * devices reconnect to another instance or to this one's successor at once. A listener's
   * close() alone waits for its connections to end, and devices with a 300 s keepalive would
   * hold the shutdown (a SIGTERM, a rolling deploy) until they went away.
   */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.admissionSweep);
    this.admission?.close();
    const listenersClosed = Promise.all(
      [this.front, this.plainServer].map((server) => new Promise<void>((r) => (server ? server.close(() => r()) : r()))),
    );
    if (this.aedes) await new Promise<void>((r) => this.aedes.close(() => r()));
    for (const socket of this.sockets) socket.destroy();
    await listenersClosed;
  }
}
