import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth';
import { CreateWebhookDto } from './dto/fleet.dto';
import { WebhooksService, toWebhookView } from './webhooks.service';

/** Failure notifications: an operator subscribes a URL and a secret to events. */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

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
}
