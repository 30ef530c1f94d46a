import type { FleetEvents } from './fleet-event';

export type Unsubscribe = () => void;

/** A subscriber: called synchronously at publication; what it returns is ignored, but a promise's rejection is reported. */
export type EventHandler<P> = (payload: P) => unknown;

/** A bus typed by an event map (event name -> payload). */
export interface EventBus<M> {
  publish<K extends keyof M>(name: K, payload: M[K]): void;
  /** Many events of one name at once (consumers that batch, e.g. the webhook outbox, see them together). */
  publishMany<K extends keyof M>(name: K, payloads: readonly M[K][]): void;
  /** Calls the handler with every payload published under the name from now on, until unsubscribed. */
  on<K extends keyof M>(name: K, handler: EventHandler<M[K]>): Unsubscribe;
}

/**
 * The bus every module publishes its cross-module events on and subscribes with. Also the Nest
 * injection token: the events lib's Nest layer binds it (EventBusService); modules depend on this
 * contract only.
 */
export abstract class FleetEventBus implements EventBus<FleetEvents> {
  abstract publish<K extends keyof FleetEvents>(name: K, payload: FleetEvents[K]): void;
  abstract publishMany<K extends keyof FleetEvents>(name: K, payloads: readonly FleetEvents[K][]): void;
  abstract on<K extends keyof FleetEvents>(name: K, handler: EventHandler<FleetEvents[K]>): Unsubscribe;
}

/**
 * In-process dispatch: handlers run in subscription order, synchronously, at publication. A
 * handler that throws (or whose promise rejects) is reported to `onError` and does not keep the
 * payload from the other handlers nor fail the publisher.
 */
export class LocalEventBus<M> implements EventBus<M> {
  private readonly handlers = new Map<keyof M, Set<EventHandler<never>>>();

  constructor(private readonly onError: (name: keyof M, error: unknown) => void) {}

  publish<K extends keyof M>(name: K, payload: M[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    // A copy: a handler may unsubscribe (itself or another) while the payload is delivered.
    for (const h of [...set] as Array<EventHandler<M[K]>>) {
      try {
        const r = h(payload);
        if (r instanceof Promise) r.catch((e: unknown) => this.onError(name, e));
      } catch (e) {
        this.onError(name, e);
      }
    }
  }

  publishMany<K extends keyof M>(name: K, payloads: readonly M[K][]): void {
    for (const p of payloads) this.publish(name, p);
  }

  on<K extends keyof M>(name: K, handler: EventHandler<M[K]>): Unsubscribe {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    // Each subscription is its own entry, so one function subscribed twice is unsubscribed once per call.
    const entry: EventHandler<M[K]> = (p) => handler(p);
    set.add(entry as EventHandler<never>);
    return () => {
      set.delete(entry as EventHandler<never>);
      if (!set.size && this.handlers.get(name) === set) this.handlers.delete(name);
    };
  }

  /** Subscribers of a name (tests, diagnostics). */
  listenerCount(name: keyof M): number {
    return this.handlers.get(name)?.size ?? 0;
  }
}
