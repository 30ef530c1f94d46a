import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Observable, Subject, filter } from 'rxjs';
import { DataSource } from 'typeorm';
import { counter } from '@fleetguard/platform';
import { FleetEvent, FleetEventType } from '../core/fleet-event';
import { retryDelaysMs, signWebhook } from '../core/webhook-signature';
import { WebhookTargetService } from './webhook-target.service';

/** Hooks one event is delivered to at most (distinct URLs); each gets the bounded retry schedule. */
export const MAX_HOOKS_PER_EVENT = 10;

const delivered = counter('fleetguard_webhook_deliveries_total', 'Webhook deliveries by outcome', ['outcome']);

interface WebhookRow {
  id: string;
  organization_id: string;
  url: string;
  secret: string;
  events: string[];
}

/**
 * In-process event bus: modules publish fleet events (attestation failures, revocations, score
 * changes); the dashboard's server-sent event stream and the webhooks consume them. Webhook
 * deliveries are signed (HMAC-SHA256) and retried with exponential backoff.
 */
@Injectable()
export class EventBusService implements OnModuleDestroy {
  private readonly logger = new Logger('Events');
  private readonly subject = new Subject<FleetEvent>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly targets: WebhookTargetService,
  ) {}

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
    void this.deliverWebhooks(event).catch((e) => this.logger.warn(`webhook lookup failed: ${(e as Error).message}`));
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
    if (events.length && !this.closed) {
      const orgs = [...new Set(events.flatMap((e) => e.audience))];
      void (async () => {
        if (!orgs.length) return;
        const hooks: WebhookRow[] = await this.ds.query(`SELECT id, organization_id, url, secret, events FROM webhooks WHERE organization_id = ANY($1::uuid[])`, [orgs]);
        const wanted = hooks.filter((h) => h.events.includes(type));
        for (const e of events) for (const h of wanted) if (e.audience.includes(h.organization_id)) void this.deliver(h, e, retryDelaysMs());
      })().catch((e) => this.logger.warn(`webhook lookup failed: ${(e as Error).message}`));
    }
    return events;
  }

  /** Events an organization may see (all of them for the system organization). */
  stream(organizationId: string | null, types?: FleetEventType[]): Observable<FleetEvent> {
    return this.subject.pipe(filter((e) => (organizationId === null || e.audience.includes(organizationId)) && (!types || types.includes(e.type))));
  }

  private async deliverWebhooks(event: FleetEvent): Promise<void> {
    if (!event.audience.length || this.closed) return;
    const hooks: WebhookRow[] = await this.ds.query(`SELECT id, organization_id, url, secret, events FROM webhooks WHERE organization_id = ANY($1::uuid[])`, [event.audience]);
    const urls = new Set<string>();
    for (const hook of hooks) {
      if (!hook.events.includes(event.type) || urls.has(hook.url)) continue;
      if (urls.size >= MAX_HOOKS_PER_EVENT) {
        delivered.inc({ outcome: 'over-limit' });
        continue;
      }
      urls.add(hook.url);
      void this.deliver(hook, event, retryDelaysMs());
    }
  }

  private async deliver(hook: WebhookRow, event: FleetEvent, delays: number[]): Promise<void> {
    if (this.closed) return;
    const body = JSON.stringify(event);
    if (delays.length < retryDelaysMs().length) {
      // A retry: the hook may have been deleted since (its retries go with it).
      const still: unknown[] = await this.ds.query('SELECT 1 FROM webhooks WHERE id = $1', [hook.id]).catch(() => [1]);
      if (!still.length) return;
    }
    // Resolved again at every attempt: the name may point somewhere internal by now (DNS rebinding).
    const target = await this.targets.check(hook.url);
    if (!target.ok) {
      delivered.inc({ outcome: 'refused-target' });
      this.logger.warn(`webhook ${hook.id} not delivered: ${target.reason}`);
      return;
    }
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fleetguard-event': event.type, 'x-fleetguard-delivery': event.id, 'x-fleetguard-signature': signWebhook(hook.secret, body) },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) {
        delivered.inc({ outcome: 'ok' });
        return;
      }
      throw new Error(`HTTP ${res.status}`);
    } catch (e) {
      const next = delays.shift();
      if (next === undefined) {
        delivered.inc({ outcome: 'dropped' });
        this.logger.warn(`webhook ${hook.id} gave up on event ${event.id}: ${(e as Error).message}`);
        return;
      }
      delivered.inc({ outcome: 'retry' });
      const t = setTimeout(() => {
        this.timers.delete(t);
        void this.deliver(hook, event, delays);
      }, next);
      t.unref();
      this.timers.add(t);
    }
  }

  onModuleDestroy(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.subject.complete();
  }
}
