import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { DEVICE_PUBLISHES, type InboundKind } from '@fleetguard/common';
import { counter } from '@fleetguard/platform';

/**
 * What an inbound handler answers: `ack` (stored; PUBACK goes out), or `reject` with a reason
 * (the message is refused, counted and logged, and the device is told on its result topic), or
 * `busy` (not taken now, e.g. a full queue: not acknowledged, so the device sends it again).
 */
export type InboundOutcome = { ack: true } | { ack: false; code: string; message: string; busy?: false } | { ack: false; busy: true; code: string; message: string };
export type InboundHandler = (deviceId: string, payload: Buffer) => Promise<InboundOutcome>;

/**
 * What the broker does with a message the dispatcher handled: acknowledge it (PUBACK), acknowledge
 * it and tell the device it was refused (`refusal`), or leave it unacknowledged (`retry`: the
 * device sends it again).
 */
export type InboundVerdict = { puback: true; refusal?: { code: string; message: string } } | { puback: false; message: string };

const kindOf = DiscoveryService.createDecorator<InboundKind>();

/**
 * Marks a provider's method as the handler of one MQTT inbound topic kind (`evidence`,
 * `hardening`, `status`: SPEC "MQTT topics"). The dispatcher finds it at boot; one handler per
 * kind. The method gets the publishing device's id (authenticated and authorized by the broker)
 * and the payload, and answers an InboundOutcome; the PUBACK waits for it.
 */
export function MqttInbound(kind: InboundKind) {
  return <T extends InboundHandler>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void => {
    kindOf(kind)(target, key, descriptor);
  };
}

const inbound = counter('fleetguard_mqtt_messages_total', 'MQTT messages received from devices, by kind and outcome', ['kind', 'outcome']);

/**
 * Hands each message the broker has let in (authenticated device, its own topic, within the size
 * limit) to the provider method marked `@MqttInbound(kind)`, found at boot through Nest's
 * DiscoveryService, and turns its outcome into what the broker does (InboundVerdict), counting
 * each outcome. A kind without a handler is acknowledged and dropped.
 */
@Injectable()
export class InboundDispatcher implements OnModuleInit {
  private readonly logger = new Logger('Broker');
  private readonly handlers = new Map<InboundKind, InboundHandler>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    const where = new Map<InboundKind, string>();
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || seen.has(instance) || !wrapper.isDependencyTreeStatic()) continue;
      seen.add(instance);
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const kind = this.discovery.getMetadataByDecorator(kindOf, wrapper, method);
        if (kind === undefined) continue;
        const name = `${instance.constructor.name}.${method}`;
        if (!(DEVICE_PUBLISHES as readonly string[]).includes(kind)) throw new Error(`@MqttInbound('${kind}') on ${name}: devices publish only ${DEVICE_PUBLISHES.join(', ')}`);
        if (where.has(kind)) throw new Error(`two handlers for MQTT inbound '${kind}': ${where.get(kind)} and ${name}`);
        where.set(kind, name);
        const fn = (instance as Record<string, InboundHandler>)[method];
        this.handlers.set(kind, (deviceId, payload) => fn.call(instance, deviceId, payload));
      }
    }
    this.logger.debug(`MQTT inbound handlers: ${[...where].map(([k, n]) => `${k} -> ${n}`).join(', ') || 'none'}`);
  }

  /** The kinds that have a handler (for tests and the boot log). */
  kinds(): InboundKind[] {
    return [...this.handlers.keys()];
  }

  async dispatch(deviceId: string, kind: InboundKind, payload: Buffer): Promise<InboundVerdict> {
    const handler = this.handlers.get(kind);
    if (!handler) return { puback: true };
    let outcome: InboundOutcome;
    try {
      // PostgreSQL text cannot hold NUL: such a payload could never be stored, so it is refused
      // (and acknowledged) rather than left to fail the handler and come back forever.
      outcome = payload.includes(0) || payload.includes('\\u0000')
        ? { ack: false, code: 'nul-character', message: 'payloads may not contain NUL characters' }
        : await handler(deviceId, payload);
    } catch (e) {
      // Not stored: refuse, so no PUBACK goes out and the device sends it again later.
      inbound.inc({ kind, outcome: 'error' });
      this.logger.error(`handling ${kind} from ${deviceId} failed: ${(e as Error).message}`);
      return { puback: false, message: 'temporarily unable to store the message' };
    }
    if (outcome.ack) {
      inbound.inc({ kind, outcome: 'accepted' });
      return { puback: true };
    }
    if (outcome.busy) {
      inbound.inc({ kind, outcome: 'busy' });
      return { puback: false, message: outcome.message };
    }
    // A message we read and refused: acknowledged (it will never become acceptable by resending).
    inbound.inc({ kind, outcome: 'rejected' });
    return { puback: true, refusal: { code: outcome.code, message: outcome.message } };
  }
}
