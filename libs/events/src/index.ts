// @fleetguard/events: the typed fleet event map and bus contract, webhook rules, signatures and
// secret sealing (no Nest, no TypeORM). The Nest layer is @fleetguard/events/nest.
export * from './core/fleet-event';
export * from './core/event-bus';
export * from './core/webhook-signature';
export * from './core/webhook.rules';
export * from './core/webhook-delivery.policy';
export * from './core/secret-box';
export * from './core/webhook-target';
