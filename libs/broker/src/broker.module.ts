import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BrokerService } from './nest/broker.service';
import { InboundDispatcher } from './nest/inbound.dispatcher';

@Global()
@Module({ imports: [DiscoveryModule], providers: [BrokerService, InboundDispatcher], exports: [BrokerService] })
export class BrokerModule {}
