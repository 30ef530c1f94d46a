import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable, Subject, filter } from 'rxjs';
import { EventHandler, FleetEventBus, LocalEventBus, Unsubscribe } from '../core/event-bus';
import { FleetEvent, FleetEventName, FleetEventType, FleetEvents, OperatorEvents, isOperatorEvent } from '../core/fleet-event';
import { WEBHOOK_EVENTS } from '../core/webhook.rules';
import { WebhookOutboxService } from './webhook-outbox.service';

export { MAX_HOOKS_PER_EVENT } from './webhook-outbox.service';

/** What `publish` gives back: the envelope the stream and the webhooks got, for an operator event. */
export type Published<K extends FleetEventName> = K extends FleetEventType ? FleetEvent<K> : void;

const SUBSCRIBABLE: ReadonlySet<string> = new Set(WEBHOOK_EVENTS);

/**
 * The in-process fleet event bus (FleetEventBus, typed by the FleetEvents map). Every payload goes
 * to the subscribers of its name; an operator event also becomes a `FleetEvent` envelope (id,
 * time, audience without empty entries, the payload's data) for the dashboard's server-sent event
 * stream and, when a webhook can subscribe to its type, for the durable outbox
 * (webhook-outbox.service.ts), which signs, delivers and retries.
 *
 * Nothing here crosses instances: each instance publishes what happens in it (and pki republishes
 * `certificate.revoked` for revocations another instance announced on the cluster bus); webhook
 * deliveries are shared through the outbox's table.
 */
@Injectable()
export class EventBusService extends FleetEventBus implements OnModuleDestroy {
  private readonly logger = new Logger('Events');
  private readonly local = new LocalEventBus<FleetEvents>((name, e) => this.logger.error(`a subscriber of ${String(name)} failed: ${(e as Error)?.stack ?? String(e)}`));
  private readonly subject = new Subject<FleetEvent>();
  private closed = false;
  private webhookPending: FleetEvent[] = [];
  private webhookFlushing = false;

  constructor(private readonly outbox: WebhookOutboxService) {
    super();
  }

  override publish<K extends FleetEventName>(name: K, payload: FleetEvents[K]): Published<K> {
    this.local.publish(name, payload);
    if (!isOperatorEvent(name)) return undefined as Published<K>;
    const event = envelope(name, payload as OperatorEvents[typeof name], new Date().toISOString());
    this.subject.next(event);
    this.queueWebhooks([event]);
    return event as Published<K>;
  }

  /**
   * Many events of one name at once (exposure recomputed over a fleet): each goes to the
   * subscribers and the stream, and the webhooks of all their audiences are looked up once, not
   * once per event.
   */
  override publishMany<K extends FleetEventName>(name: K, payloads: readonly FleetEvents[K][]): Array<Published<K>> {
    this.local.publishMany(name, payloads);
    if (!isOperatorEvent(name)) return payloads.map(() => undefined as Published<K>);
    const at = new Date().toISOString();
    const events = payloads.map((p) => envelope(name, p as OperatorEvents[typeof name], at));
    for (const e of events) this.subject.next(e);
    this.queueWebhooks(events);
    return events as Array<Published<K>>;
  }

  override on<K extends FleetEventName>(name: K, handler: EventHandler<FleetEvents[K]>): Unsubscribe {
    return this.local.on(name, handler);
  }

  /** Operator events an organization may see (all of them for the system organization), as the stream sends them. */
  stream<K extends FleetEventType = FleetEventType>(organizationId: string | null, types?: readonly K[]): Observable<FleetEvent<K>> {
    const wanted: ReadonlySet<string> | null = types ? new Set(types) : null;
    return this.subject.pipe(filter((e) => (organizationId === null || e.audience.includes(organizationId)) && (!wanted || wanted.has(e.type)))) as Observable<FleetEvent<K>>;
  }

  /**
   * Events published while the previous lookup is in flight are queued together: a burst of
   * results looks up its audiences' webhooks once and inserts its deliveries in one statement.
   * Only types a webhook can subscribe to are queued: the others could match no hook.
   */
  private queueWebhooks(events: FleetEvent[]): void {
    if (this.closed) return;
    for (const e of events) if (e.audience.length && SUBSCRIBABLE.has(e.type)) this.webhookPending.push(e);
    if (!this.webhookPending.length || this.webhookFlushing) return;
    this.webhookFlushing = true;
    setImmediate(() => void this.flushWebhooks());
  }

  private async flushWebhooks(): Promise<void> {
    try {
      while (this.webhookPending.length && !this.closed) {
        const events = this.webhookPending.splice(0, 2000);
        await this.outbox.enqueue(events).catch((e) => this.logger.warn(`webhook deliveries of ${events.length} event(s) not queued: ${(e as Error).message}`));
      }
    } finally {
      this.webhookFlushing = false;
    }
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.subject.complete();
  }
}

function envelope<K extends FleetEventType>(type: K, payload: OperatorEvents[K], at: string): FleetEvent {
  return {
    id: randomUUID(),
    type,
    at,
    deviceId: payload.deviceId,
    audience: payload.audience.filter((x): x is string => !!x),
    data: payload.data,
  } as FleetEvent;
}
