import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WebhookEntity } from './entities/webhook.entity';
import { FleetEventBus } from './core/event-bus';
import { EventBusService } from './nest/event-bus.service';
import { EventsController } from './nest/events.controller';
import { WebhookOutboxService } from './nest/webhook-outbox.service';
import { WebhookSecretsService } from './nest/webhook-secrets.service';
import { WebhookTargetService } from './nest/webhook-target.service';
import { WebhooksController } from './nest/webhooks.controller';
import { WebhooksService } from './nest/webhooks.service';

/** The fleet event bus (FleetEventBus, bound to EventBusService) and its consumers: the dashboard's stream, webhook subscriptions and their durable outbox. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEntity])],
  controllers: [EventsController, WebhooksController],
  providers: [EventBusService, { provide: FleetEventBus, useExisting: EventBusService }, WebhookTargetService, WebhookSecretsService, WebhookOutboxService, WebhooksService],
  exports: [FleetEventBus, EventBusService, WebhookTargetService, WebhooksService, WebhookOutboxService],
})
export class EventsModule {}
