export * from './core/topic-acl';
export * from './nest/broker.service';
export * from './broker.module';
