import { Global, Module } from '@nestjs/common';
import { BrokerService } from './nest/broker.service';

@Global()
@Module({ providers: [BrokerService], exports: [BrokerService] })
export class BrokerModule {}
