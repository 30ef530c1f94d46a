import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { conflict, notFound } from '@fleetguard/common';
import { Principal } from '@fleetguard/auth';
import { WebhookTargetService } from '@fleetguard/events';
import { WEBHOOKS_PER_ORGANIZATION, WebhookInput, checkWebhook } from '../core/webhook.rules';
import { WebhookEntity } from '../entities/webhook.entity';

/** An organization's webhook subscriptions. Delivery (HMAC signing, retries) is the event bus's (@fleetguard/events), which reads the same table. */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly targets: WebhookTargetService,
  ) {}

  async create(p: Principal, input: WebhookInput): Promise<WebhookEntity> {
    const checked = checkWebhook(input);
    await this.targets.assertRegistrable(checked.url);
    const repo = this.ds.getRepository(WebhookEntity);
    if ((await repo.count({ where: { organizationId: p.organizationId } })) >= WEBHOOKS_PER_ORGANIZATION) {
      throw conflict('webhook.too-many', `an organization has at most ${WEBHOOKS_PER_ORGANIZATION} webhooks; delete one first`);
    }
    return repo.save(repo.create({ id: randomUUID(), organizationId: p.organizationId, ...checked }));
  }

  list(p: Principal): Promise<WebhookEntity[]> {
    return this.ds.getRepository(WebhookEntity).find({ where: { organizationId: p.organizationId }, order: { createdAt: 'ASC' } });
  }

  /** Deletes one of the caller's webhooks; another organization's is a 404. */
  async remove(p: Principal, id: string): Promise<void> {
    const r = await this.ds.getRepository(WebhookEntity).delete({ id, organizationId: p.organizationId });
    if (!r.affected) throw notFound('webhook.not-found', `no webhook ${id}`);
  }
}

/** What the API shows of a webhook: never the secret. */
export function toWebhookView(w: WebhookEntity) {
  return { id: w.id, url: w.url, events: w.events, createdAt: w.createdAt };
}
