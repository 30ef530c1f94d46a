export * from './core/fleet-event';
export * from './core/webhook-signature';
export * from './nest/event-bus.service';
export * from './events.module';
export * from './core/webhook-target';
export * from './nest/webhook-target.service';
