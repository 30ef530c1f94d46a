// @fleetguard/broker: the topic ACL (no Nest). The embedded broker is @fleetguard/broker/nest.
export * from './core/topic-acl';
