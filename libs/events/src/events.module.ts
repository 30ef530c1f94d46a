import { Global, Module } from '@nestjs/common';
import { EventBusService } from './nest/event-bus.service';
import { EventsController } from './nest/events.controller';
import { WebhookTargetService } from './nest/webhook-target.service';

@Global()
@Module({ controllers: [EventsController], providers: [EventBusService, WebhookTargetService], exports: [EventBusService, WebhookTargetService] })
export class EventsModule {}
