import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { conflict, notFound } from '@fleetguard/common';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { CreateWebhookDto, ListDeliveriesQueryDto } from './dto/webhooks.dto';
import { WebhookOutboxService } from './webhook-outbox.service';
import { WebhooksService, toWebhookView } from './webhooks.service';

/** Failure notifications: an operator subscribes a URL and a secret to events, and sees (and redelivers) what was sent. */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly outbox: WebhookOutboxService,
  ) {}

  @Post()
  @Roles('operator')
  async create(@CurrentPrincipal() p: Principal, @Body() dto: CreateWebhookDto) {
    return toWebhookView(await this.webhooks.create(p, dto));
  }

  @Get()
  @Roles('operator', 'auditor')
  async list(@CurrentPrincipal() p: Principal) {
    return (await this.webhooks.list(p)).map(toWebhookView);
  }

  @Delete(':id')
  @Roles('operator')
  @HttpCode(204)
  async remove(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    await this.webhooks.remove(p, id);
  }

  /** A hook's deliveries, newest first: status (pending, delivered, dead), attempts, last error. */
  @Get(':id/deliveries')
  @Roles('operator', 'auditor')
  async deliveries(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Query() q: ListDeliveriesQueryDto) {
    await this.webhooks.get(p, id);
    return this.outbox.list(id, q.status, q.limit ?? 100);
  }

  /** Queues a dead delivery again, with a fresh retry horizon. */
  @Post(':id/deliveries/:deliveryId/redeliver')
  @Roles('operator')
  @HttpCode(202)
  async redeliver(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Param('deliveryId', new ParseUUIDPipe()) deliveryId: string) {
    await this.webhooks.get(p, id);
    const r = await this.outbox.redeliver(id, deliveryId);
    if (r === null) throw notFound('webhook.delivery-not-found', `webhook ${id} has no delivery ${deliveryId}`);
    if (r === 'not-dead') throw conflict('webhook.delivery-not-dead', `delivery ${deliveryId} is not dead; only a dead delivery is redelivered`);
    return r;
  }
}
