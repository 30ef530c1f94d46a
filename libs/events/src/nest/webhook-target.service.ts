import { Inject, Injectable } from '@nestjs/common';
import { promises as dns } from 'node:dns';
import { AppConfig, invalid } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { TargetPolicy, TargetVerdict, checkWebhookTarget } from '../core/webhook-target';

const LOOKUP_TIMEOUT_MS = 3_000;

/** The SSRF policy of webhook targets, with this service's configuration and bound ports. */
@Injectable()
export class WebhookTargetService {
  private readonly ownPorts = new Set<number>();
  private readonly policy: TargetPolicy;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    for (const p of [config.httpPort, config.devicePort, config.mqttPort, config.mqttPlainPort]) if (p) this.ownPorts.add(p);
    this.policy = {
      allowed: config.webhookAllowedHosts,
      ownPorts: [],
      lookup: (host) =>
        Promise.race([
          dns.lookup(host, { all: true, verbatim: true }).then((r) => r.map((a) => a.address)),
          new Promise<string[]>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), LOOKUP_TIMEOUT_MS).unref()),
        ]),
    };
  }

  /** The listeners' bound ports (ephemeral ones are known only after listen). */
  addOwnPorts(...ports: Array<number | undefined>): void {
    for (const p of ports) if (p) this.ownPorts.add(p);
  }

  check(url: string): Promise<TargetVerdict> {
    return checkWebhookTarget(url, { ...this.policy, ownPorts: [...this.ownPorts] });
  }

  /**
   * At registration: an internal target is a 400. A name that does not resolve (yet) is accepted:
   * every delivery checks again, which is where it matters.
   */
  async assertRegistrable(url: string): Promise<void> {
    const v = await this.check(url);
    if (!v.ok && !v.unresolved) throw invalid('webhook.forbidden-target', `url is not allowed: ${v.reason}`);
  }
}
