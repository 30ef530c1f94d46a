import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { conflict, notFound } from '@fleetguard/common';
import { Principal } from '@fleetguard/auth/nest';
import { WEBHOOKS_PER_ORGANIZATION, WebhookInput, checkWebhook } from '../core/webhook.rules';
import { WebhookEntity } from '../entities/webhook.entity';
import { WebhookSecretsService } from './webhook-secrets.service';
import { WebhookTargetService } from './webhook-target.service';

/** An organization's webhook subscriptions. Delivery is the outbox's (webhook-outbox.service.ts), which reads the same table. */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly targets: WebhookTargetService,
    private readonly secrets: WebhookSecretsService,
  ) {}

  async create(p: Principal, input: WebhookInput): Promise<WebhookEntity> {
    const checked = checkWebhook(input);
    await this.targets.assertRegistrable(checked.url);
    const repo = this.ds.getRepository(WebhookEntity);
    if ((await repo.count({ where: { organizationId: p.organizationId } })) >= WEBHOOKS_PER_ORGANIZATION) {
      throw conflict('webhook.too-many', `an organization has at most ${WEBHOOKS_PER_ORGANIZATION} webhooks; delete one first`);
    }
    const id = randomUUID();
    const saved = await repo.save(repo.create({ id, organizationId: p.organizationId, url: checked.url, events: checked.events, secret: null, secretSealed: this.secrets.seal(checked.secret, id) }));
    return { ...saved, secret: null, secretSealed: null };
  }

  list(p: Principal): Promise<WebhookEntity[]> {
    return this.ds.getRepository(WebhookEntity).find({ where: { organizationId: p.organizationId }, order: { createdAt: 'ASC' } });
  }

  /** One of the caller's webhooks; another organization's is a 404, as is one that does not exist. */
  async get(p: Principal, id: string): Promise<WebhookEntity> {
    const hook = await this.ds.getRepository(WebhookEntity).findOne({ where: { id, organizationId: p.organizationId } });
    if (!hook) throw notFound('webhook.not-found', `no webhook ${id}`);
    return hook;
  }

  /** Deletes one of the caller's webhooks, and its deliveries with it (pending retries included). */
  async remove(p: Principal, id: string): Promise<void> {
    const r = await this.ds.getRepository(WebhookEntity).delete({ id, organizationId: p.organizationId });
    if (!r.affected) throw notFound('webhook.not-found', `no webhook ${id}`);
  }
}

/** What the API shows of a webhook: never the secret. */
export function toWebhookView(w: WebhookEntity) {
  return { id: w.id, url: w.url, events: w.events, createdAt: w.createdAt };
}
