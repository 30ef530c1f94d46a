// @fleetguard/broker/nest: the embedded aedes broker service and its module.
export * from './broker.service';
export * from './inbound.dispatcher';
export * from '../broker.module';
