import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter, gauge } from '@fleetguard/platform';
import { returningRows } from '@fleetguard/persistence';
import { FleetEvent } from '../core/fleet-event';
import { BackoffSettings, ReceiverBreakers, afterFailure, receiverOf } from '../core/webhook-delivery.policy';
import { DeliveryStatus } from '../core/webhook.rules';
import { signWebhook } from '../core/webhook-signature';
import { WebhookSecretsService } from './webhook-secrets.service';
import { WebhookTargetService } from './webhook-target.service';

/** Hooks one event is delivered to at most (distinct URLs). */
export const MAX_HOOKS_PER_EVENT = 10;
/** How often an idle worker looks for due deliveries (publishing and finished attempts wake it sooner). */
const POLL_MS = 500;
const MAINTAIN_MS = 5_000;
/** Over an attempt's time limit: the DNS check before it and some slack. */
const LEASE_SLACK_MS = 15_000;
const PRUNE_BATCH = 1_000;

const delivered = counter('fleetguard_webhook_deliveries_total', 'Webhook delivery attempts by outcome (ok, retry, dead, refused-target, over-limit)', ['outcome']);
const queued = gauge('fleetguard_webhook_outbox_deliveries', 'Webhook deliveries in the outbox by status (pending: waiting or being attempted; dead: given up, kept for the retention time)', ['status']);
const inFlightGauge = gauge('fleetguard_webhook_attempts_in_flight', 'Webhook attempts under way in this instance');
const breakersOpen = gauge('fleetguard_webhook_breakers_open', 'Webhook receivers whose circuit breaker is open in this instance');

interface ClaimedRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  receiver: string;
  payload: string;
  attempts: number;
  expires_at: Date | string;
}

type Outcome = { ok: true; status: number } | { ok: false; error: string; status?: number; breaker: boolean };

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  nextAttemptAt: string | null;
  expiresAt: string;
  createdAt: string;
  finishedAt: string | null;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

function toDeliveryView(r: Record<string, unknown>): DeliveryView {
  return {
    id: r.id as string,
    eventId: r.event_id as string,
    eventType: r.event_type as string,
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    lastStatus: r.last_status === null || r.last_status === undefined ? null : Number(r.last_status),
    nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at as Date) : null,
    expiresAt: iso(r.expires_at as Date)!,
    createdAt: iso(r.created_at as Date)!,
    finishedAt: iso((r.finished_at as Date | null) ?? null),
  };
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  const cause = err?.cause?.code ?? err?.cause?.message;
  return (cause ? `${err.message}: ${cause}` : String(err?.message ?? e)).slice(0, 500);
}

/**
 * The durable webhook outbox (issue 12). Each event's deliveries are rows of `webhook_deliveries`
 * written before any attempt; a worker in every instance claims due rows with
 * `FOR UPDATE SKIP LOCKED` and a lease (so several instances on one database deliver each once,
 * and a crashed instance's rows are taken over when its lease runs out), attempts them with a
 * time limit, at most N at once per receiver and M in all, behind a per-receiver circuit breaker,
 * and retries failures with exponential backoff and jitter until the retry horizon; then the
 * delivery is dead: listed by the API (and redeliverable), counted in `/metrics`.
 *
 * Delivery is at least once: an attempt whose result could not be recorded (crash, lease lost)
 * is made again. Receivers deduplicate on `X-Fleetguard-Delivery`, which stays the same for every
 * attempt of one delivery.
 */
@Injectable()
export class WebhookOutboxService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  /** This worker's name in `lease_owner`. */
  readonly owner = `${hostname().slice(0, 30)}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly settings: AppConfig['webhook'];
  private readonly backoff: BackoffSettings;
  private readonly breakers: ReceiverBreakers;
  private readonly perReceiver = new Map<string, number>();
  private readonly attempts = new Map<string, AbortController>();
  private readonly settled = new Set<Promise<void>>();
  private inFlight = 0;
  /** Attempts this worker started (tests and the log). */
  attemptsStarted = 0;
  private timer?: NodeJS.Timeout;
  private maintainTimer?: NodeJS.Timeout;
  private running = false;
  private wake = false;
  private started = false;
  private closed = false;
  /** The earliest retry this worker scheduled (so a short backoff is not rounded up to the poll period). */
  private nextDue = Infinity;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly targets: WebhookTargetService,
    private readonly secrets: WebhookSecretsService,
  ) {
    this.settings = config.webhook;
    this.backoff = { baseMs: this.settings.backoffBaseMs, maxMs: this.settings.backoffMaxSeconds * 1000, horizonMs: this.settings.retryHorizonSeconds * 1000 };
    const openMs = this.settings.breakerOpenSeconds * 1000;
    // a failed probe doubles the open time, up to the longest backoff or 16 times the first, whichever is longer
    this.breakers = new ReceiverBreakers({ failures: this.settings.breakerFailures, openMs, maxOpenMs: Math.max(openMs * 16, this.backoff.maxMs) });
  }

  onApplicationBootstrap(): void {
    this.started = true;
    this.schedule(0);
    this.maintainTimer = setInterval(() => void this.maintain(), MAINTAIN_MS);
    this.maintainTimer.unref();
    void this.maintain();
  }

  /**
   * Queues the webhook deliveries of events: one row per (hook, event) for the hooks of the
   * events' audiences that subscribed to the type, at most MAX_HOOKS_PER_EVENT distinct URLs per
   * event. Durable before any attempt is made.
   */
  async enqueue(events: FleetEvent[]): Promise<number> {
    if (this.closed) return 0;
    const orgs = [...new Set(events.flatMap((e) => e.audience))];
    if (!orgs.length) return 0;
    const hooks: Array<{ id: string; organization_id: string; url: string; events: string[] }> = await this.ds.query(
      `SELECT id, organization_id, url, events FROM webhooks WHERE organization_id = ANY($1::uuid[]) ORDER BY created_at, id`,
      [orgs],
    );
    const cols: string[][] = [[], [], [], [], [], []];
    for (const e of events) {
      const urls = new Set<string>();
      let payload: string | undefined;
      for (const h of hooks) {
        if (!h.events.includes(e.type) || !e.audience.includes(h.organization_id) || urls.has(h.url)) continue;
        if (urls.size >= MAX_HOOKS_PER_EVENT) {
          delivered.inc({ outcome: 'over-limit' });
          continue;
        }
        urls.add(h.url);
        payload ??= JSON.stringify(e);
        [randomUUID(), h.id, e.id, e.type, receiverOf(h.url), payload].forEach((v, i) => cols[i].push(v));
      }
    }
    let n = 0;
    for (let from = 0; from < cols[0].length; from += 500) {
      const slice = cols.map((c) => c.slice(from, from + 500));
      // A hook deleted meanwhile drops out in the join (and its deliveries would go with it anyway).
      const rows = await this.ds.query(
        `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, receiver, payload, expires_at)
         SELECT u.id, u.webhook_id, u.event_id, u.event_type, u.receiver, u.payload, now() + $7 * interval '1 millisecond'
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::varchar[], $5::varchar[], $6::text[]) AS u(id, webhook_id, event_id, event_type, receiver, payload)
           JOIN webhooks w ON w.id = u.webhook_id
         ON CONFLICT (webhook_id, event_id) DO NOTHING
         RETURNING id`,
        [...slice, this.backoff.horizonMs],
      );
      n += returningRows(rows).length;
    }
    if (n) this.poke();
    return n;
  }

  /** A hook's deliveries, newest first. */
  async list(webhookId: string, status: DeliveryStatus | undefined, limit: number): Promise<DeliveryView[]> {
    const rows: Array<Record<string, unknown>> = await this.ds.query(
      `SELECT id, event_id, event_type, status, attempts, last_error, last_status, next_attempt_at, expires_at, created_at, finished_at
         FROM webhook_deliveries WHERE webhook_id = $1 AND ($2::varchar IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3`,
      [webhookId, status ?? null, limit],
    );
    return rows.map(toDeliveryView);
  }

  /** A dead delivery queued again, with a fresh horizon (and its receiver's breaker reset here); null when there is no such delivery, 'not-dead' when it is not dead. */
  async redeliver(webhookId: string, deliveryId: string): Promise<DeliveryView | null | 'not-dead'> {
    const rows = returningRows<Record<string, unknown>>(
      await this.ds.query(
        `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), expires_at = now() + $3 * interval '1 millisecond',
                finished_at = NULL, lease_owner = NULL, lease_until = NULL
          WHERE id = $1 AND webhook_id = $2 AND status = 'dead'
          RETURNING id, event_id, event_type, status, attempts, last_error, last_status, next_attempt_at, expires_at, created_at, finished_at, receiver`,
        [deliveryId, webhookId, this.backoff.horizonMs],
      ),
    );
    if (!rows.length) {
      const exists: unknown[] = await this.ds.query('SELECT 1 FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2', [deliveryId, webhookId]);
      return exists.length ? 'not-dead' : null;
    }
    this.breakers.reset(rows[0].receiver as string);
    this.poke();
    return toDeliveryView(rows[0]);
  }

  /** Wakes the worker (new rows, or a slot came free). */
  poke(): void {
    if (!this.started || this.closed) return;
    if (this.running) this.wake = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    let full = false;
    try {
      full = await this.claimAndStart();
    } catch (e) {
      this.logRateLimited(`webhook outbox: cannot claim deliveries: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
    const again = this.wake || full;
    this.wake = false;
    if (again && this.inFlight < this.settings.concurrency) this.schedule(0);
    else {
      const untilDue = this.nextDue - Date.now();
      if (untilDue <= 0) this.nextDue = Infinity;
      this.schedule(Math.max(0, Math.min(POLL_MS, untilDue)));
    }
  }

  /** Claims due rows for free slots and starts them; true when it got as many as it asked for (there may be more). */
  private async claimAndStart(): Promise<boolean> {
    const free = this.settings.concurrency - this.inFlight;
    if (free <= 0) return false;
    const now = Date.now();
    const excluded = new Set(this.breakers.blocked(now));
    for (const [r, n] of this.perReceiver) if (n >= this.settings.concurrencyPerReceiver) excluded.add(r);
    breakersOpen.set(this.breakers.openCount(now));
    const leaseMs = this.settings.timeoutMs + LEASE_SLACK_MS;
    const rows = returningRows<ClaimedRow>(
      await this.ds.query(
        `UPDATE webhook_deliveries d SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond', attempts = d.attempts + 1
           FROM (SELECT id FROM webhook_deliveries
                  WHERE status = 'pending' AND next_attempt_at <= now() AND expires_at > now() AND (lease_until IS NULL OR lease_until < now())
                    AND NOT (receiver = ANY($3::varchar[]))
                  ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) c
          WHERE d.id = c.id
          RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.receiver, d.payload, d.attempts, d.expires_at`,
        [this.owner, leaseMs, [...excluded], free],
      ),
    );
    const release: string[] = [];
    for (const row of rows) {
      if (this.closed || (this.perReceiver.get(row.receiver) ?? 0) >= this.settings.concurrencyPerReceiver || !this.breakers.admit(row.receiver)) {
        release.push(row.id);
        continue;
      }
      this.start(row);
    }
    if (release.length) await this.release(release);
    return rows.length === free && release.length === 0;
  }

  /** Gives claimed rows back untried (their attempt is not counted). */
  private async release(ids: string[]): Promise<void> {
    await this.ds.query(`UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 WHERE id = ANY($1::uuid[]) AND lease_owner = $2`, [ids, this.owner]);
  }

  private start(row: ClaimedRow): void {
    this.attemptsStarted++;
    this.inFlight++;
    this.perReceiver.set(row.receiver, (this.perReceiver.get(row.receiver) ?? 0) + 1);
    inFlightGauge.set(this.inFlight);
    const abort = new AbortController();
    this.attempts.set(row.id, abort);
    const p: Promise<void> = this.attempt(row, abort.signal)
      .then((outcome) => (this.closed ? undefined : this.finish(row, outcome)))
      .catch((e) => this.logRateLimited(`webhook delivery ${row.id}: cannot record the outcome (${(e as Error).message}); its lease will run out and it is attempted again`))
      .finally(() => {
        this.inFlight--;
        const n = (this.perReceiver.get(row.receiver) ?? 1) - 1;
        if (n > 0) this.perReceiver.set(row.receiver, n);
        else this.perReceiver.delete(row.receiver);
        inFlightGauge.set(this.inFlight);
        this.attempts.delete(row.id);
        this.settled.delete(p);
        this.poke();
      });
    this.settled.add(p);
  }

  private async attempt(row: ClaimedRow, abort: AbortSignal): Promise<Outcome> {
    const timeoutMs = this.settings.timeoutMs;
    try {
      const [hook]: Array<{ id: string; url: string; secret: string | null; secret_sealed: string | null }> = await this.ds.query('SELECT id, url, secret, secret_sealed FROM webhooks WHERE id = $1', [row.webhook_id]);
      if (!hook) return { ok: false, error: 'the webhook was deleted', breaker: false };
      let secret: string;
      try {
        secret = await this.secrets.reveal(hook);
      } catch (e) {
        this.logRateLimited(`webhook ${hook.id}: its secret cannot be opened (${(e as Error).message})`);
        return { ok: false, error: `the secret cannot be opened: ${(e as Error).message}`.slice(0, 500), breaker: false };
      }
      // Resolved again at every attempt: the name may point somewhere internal by now (DNS rebinding).
      const target = await this.targets.check(hook.url);
      if (!target.ok) {
        delivered.inc({ outcome: 'refused-target' });
        this.logRateLimited(`webhook ${hook.id} not delivered: ${target.reason}`);
        return { ok: false, error: `target refused: ${target.reason}`.slice(0, 500), breaker: false };
      }
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-fleetguard-event': row.event_type,
          'x-fleetguard-delivery': row.id,
          'x-fleetguard-attempt': String(row.attempts),
          'x-fleetguard-signature': signWebhook(secret, row.payload),
        },
        body: row.payload,
        redirect: 'error',
        signal: AbortSignal.any([abort, AbortSignal.timeout(timeoutMs)]),
      });
      // The body is not read: the socket goes back to the pool (or is closed) now.
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? { ok: true, status: res.status } : { ok: false, error: `HTTP ${res.status}`, status: res.status, breaker: true };
    } catch (e) {
      return { ok: false, error: describe(e, timeoutMs), breaker: true };
    }
  }

  private async finish(row: ClaimedRow, outcome: Outcome): Promise<void> {
    if (outcome.ok) {
      this.breakers.success(row.receiver);
      delivered.inc({ outcome: 'ok' });
      await this.ds.query(
        `UPDATE webhook_deliveries SET status = 'delivered', finished_at = now(), last_status = $3, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
        [row.id, this.owner, outcome.status],
      );
      return;
    }
    if (outcome.breaker) this.breakers.failure(row.receiver);
    const verdict = afterFailure(row.attempts, new Date(row.expires_at), new Date(), this.backoff);
    if (verdict.status === 'dead') {
      delivered.inc({ outcome: 'dead' });
      this.logger.warn(`webhook delivery ${row.id} (hook ${row.webhook_id}, event ${row.event_id}) is dead after ${row.attempts} attempt(s): ${outcome.error}`);
      await this.ds.query(
        `UPDATE webhook_deliveries SET status = 'dead', finished_at = now(), last_status = $3, last_error = $4, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
        [row.id, this.owner, outcome.status ?? null, outcome.error],
      );
      return;
    }
    delivered.inc({ outcome: 'retry' });
    this.nextDue = Math.min(this.nextDue, verdict.nextAttemptAt.getTime());
    await this.ds.query(
      `UPDATE webhook_deliveries SET next_attempt_at = $3, last_status = $4, last_error = $5, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
      [row.id, this.owner, verdict.nextAttemptAt, outcome.status ?? null, outcome.error],
    );
  }

  /**
   * Every few seconds: deliveries past their horizon that could not even be attempted (the
   * receiver's breaker open) become dead; finished ones past the retention time are deleted;
   * the gauges are refreshed.
   */
  async maintain(): Promise<void> {
    if (this.closed) return;
    try {
      await this.ds.query(
        `UPDATE webhook_deliveries SET status = 'dead', finished_at = now(), last_error = COALESCE(last_error, 'not attempted within the retry horizon')
          WHERE status = 'pending' AND expires_at < now() AND (lease_until IS NULL OR lease_until < now())`,
      );
      await this.ds.query(
        `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < now() - $1 * interval '1 day' LIMIT ${PRUNE_BATCH})`,
        [this.settings.retentionDays],
      );
      const counts: Array<{ status: string; n: string | number }> = await this.ds.query(`SELECT status, count(*) AS n FROM webhook_deliveries WHERE status IN ('pending', 'dead') GROUP BY status`);
      for (const s of ['pending', 'dead']) queued.set({ status: s }, Number(counts.find((c) => c.status === s)?.n ?? 0));
      breakersOpen.set(this.breakers.openCount());
    } catch (e) {
      this.logRateLimited(`webhook outbox maintenance failed: ${(e as Error).message}`);
    }
  }

  /** Stops claiming, aborts attempts under way and gives their rows back, so the next instance need not wait for the leases. */
  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    for (const a of this.attempts.values()) a.abort();
    await Promise.allSettled([...this.settled]);
    await this.ds.query(`UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0) WHERE lease_owner = $1`, [this.owner]).catch(() => undefined);
  }

  /**
   * A warning that may repeat for every delivery (a failing database, a refused target). The
   * service's logger (PinoNestLogger) holds each shape of line to five per 10 s and says how many
   * it held back, so distinct failures (another hook, another reason) are not hidden behind one.
   */
  private logRateLimited(message: string): void {
    this.logger.warn(message);
  }
}
