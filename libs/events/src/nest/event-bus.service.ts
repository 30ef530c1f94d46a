import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable, Subject, filter } from 'rxjs';
import { FleetEvent, FleetEventType } from '../core/fleet-event';
import { WebhookOutboxService } from './webhook-outbox.service';

export { MAX_HOOKS_PER_EVENT } from './webhook-outbox.service';

/**
 * In-process event bus: modules publish fleet events (attestation failures, revocations, score
 * changes); the dashboard's server-sent event stream and the webhooks consume them. Webhook
 * deliveries go to the durable outbox (webhook-outbox.service.ts), which signs, delivers and
 * retries them.
 */
@Injectable()
export class EventBusService implements OnModuleDestroy {
  private readonly logger = new Logger('Events');
  private readonly subject = new Subject<FleetEvent>();
  private closed = false;
  private webhookPending: FleetEvent[] = [];
  private webhookFlushing = false;

  constructor(private readonly outbox: WebhookOutboxService) {}

  publish(type: FleetEventType, input: { deviceId?: string; audience: Array<string | null | undefined>; data: Record<string, unknown> }): FleetEvent {
    const event: FleetEvent = {
      id: randomUUID(),
      type,
      at: new Date().toISOString(),
      deviceId: input.deviceId,
      audience: input.audience.filter((x): x is string => !!x),
      data: input.data,
    };
    this.subject.next(event);
    this.queueWebhooks([event]);
    return event;
  }

  /**
   * Many events of one type at once (exposure recomputed over a fleet): each goes to the stream,
   * and the webhooks of all their audiences are looked up once, not once per event.
   */
  publishMany(type: FleetEventType, inputs: Array<{ deviceId?: string; audience: Array<string | null | undefined>; data: Record<string, unknown> }>): FleetEvent[] {
    const at = new Date().toISOString();
    const events: FleetEvent[] = new Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      events[i] = { id: randomUUID(), type, at, deviceId: input.deviceId, audience: input.audience.filter((x): x is string => !!x), data: input.data };
    }
    for (const e of events) this.subject.next(e);
    this.queueWebhooks(events);
    return events;
  }

  /** Events an organization may see (all of them for the system organization). */
  stream(organizationId: string | null, types?: FleetEventType[]): Observable<FleetEvent> {
    return this.subject.pipe(filter((e) => (organizationId === null || e.audience.includes(organizationId)) && (!types || types.includes(e.type))));
  }

  /**
   * Events published while the previous lookup is in flight are queued together: a burst of
   * results looks up its audiences' webhooks once and inserts its deliveries in one statement.
   */
  private queueWebhooks(events: FleetEvent[]): void {
    if (this.closed) return;
    for (const e of events) if (e.audience.length) this.webhookPending.push(e);
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
