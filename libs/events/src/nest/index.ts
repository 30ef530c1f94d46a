// @fleetguard/events/nest: the event bus service, webhook subscriptions and outbox, the module.
export * from '../entities/webhook.entity';
export * from './event-bus.service';
export * from './webhook-outbox.service';
export * from './webhooks.service';
export * from './webhook-secrets.service';
export * from '../events.module';
export * from './webhook-target.service';
