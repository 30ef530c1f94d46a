import { Global, Module } from '@nestjs/common';
import { EventBusService } from './nest/event-bus.service';
import { EventsController } from './nest/events.controller';

@Global()
@Module({ controllers: [EventsController], providers: [EventBusService], exports: [EventBusService] })
export class EventsModule {}
