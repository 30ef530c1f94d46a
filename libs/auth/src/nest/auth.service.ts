import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AppConfig, conflict, invalid, notFound } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform/nest';
import { OrganizationKind, ROLES_BY_KIND, Role, apiKeyFromText, generateApiKey, keyCandidates, parseApiKey, secretMatches } from '../core/api-key';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { OrganizationEntity } from '../entities/organization.entity';
import { Principal } from './principal';

const CACHE_TTL_MS = 5_000;
/** Held while an instance makes or finds the system organization and the bootstrap admin key. */
const BOOTSTRAP_LOCK_KEY = 0x41444d31; // 'ADM1'

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');
  private readonly cache = new Map<string, { principal: Principal | null; hash: string; until: number }>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cluster: ClusterBus,
  ) {
    // Another instance revoked a key: forget it now (the cache's 5 s lifetime bounds it if the message is lost).
    this.cluster.on<{ id: string }>('api-key-revoked', (m) => this.forget(m.id));
  }

  private forget(id: string): void {
    this.cache.delete(id);
    for (const [k, v] of this.cache) if (v.principal?.keyId === id) this.cache.delete(k);
  }

  /** Resolves a bearer token to a principal, or null (unknown, wrong secret, revoked). */
  async authenticate(token: string): Promise<Principal | null> {
    for (const c of keyCandidates(token)) {
      const { secret } = c;
      const cacheKey = c.by === 'id' ? c.id : `h:${c.hash}`;
      const now = Date.now();
      let cached = this.cache.get(cacheKey);
      if (!cached || cached.until < now) {
        const key = await this.ds.getRepository(ApiKeyEntity).findOne({ where: c.by === 'id' ? { id: c.id } : { secretHash: c.hash } });
        const org = key ? await this.ds.getRepository(OrganizationEntity).findOne({ where: { id: key.organizationId } }) : null;
        cached = {
          hash: key?.secretHash ?? '',
          principal:
            key && org && !key.revokedAt
              ? { keyId: key.id, organizationId: org.id, organizationKind: org.kind, roles: key.roles }
              : null,
          until: now + CACHE_TTL_MS,
        };
        // Bounded: presenting random keys must not grow memory without limit.
        if (this.cache.size >= 10_000) this.cache.clear();
        this.cache.set(cacheKey, cached);
      }
      if (cached.principal && secretMatches(secret, cached.hash)) return cached.principal;
    }
    return null;
  }

  async createOrganization(name: string, kind: Exclude<OrganizationKind, 'system'>): Promise<OrganizationEntity> {
    const repo = this.ds.getRepository(OrganizationEntity);
    if (await repo.findOne({ where: { name } })) throw conflict('organization.exists', `an organization named '${name}' exists already`);
    return repo.save(repo.create({ id: randomUUID(), name, kind }));
  }

  listOrganizations(): Promise<OrganizationEntity[]> {
    return this.ds.getRepository(OrganizationEntity).find({ order: { createdAt: 'ASC' } });
  }

  async findOrganization(id: string): Promise<OrganizationEntity | null> {
    return this.ds.getRepository(OrganizationEntity).findOne({ where: { id } });
  }

  async createApiKey(organizationId: string, roles: Role[], label?: string): Promise<{ id: string; key: string; organizationId: string; roles: Role[] }> {
    const org = await this.findOrganization(organizationId);
    if (!org) throw notFound('organization.not-found', `no organization ${organizationId}`);
    const allowed = ROLES_BY_KIND[org.kind];
    const bad = roles.filter((r) => !allowed.includes(r));
    if (bad.length) throw invalid('api-key.role-not-allowed', `an organization of kind '${org.kind}' cannot hold the role(s) ${bad.join(', ')} (allowed: ${allowed.join(', ')})`);
    const g = generateApiKey();
    await this.ds.getRepository(ApiKeyEntity).insert({ id: g.id, organizationId, roles: [...new Set(roles)], secretHash: g.secretHash, label: label ?? null, revokedAt: null });
    return { id: g.id, key: g.key, organizationId, roles };
  }

  async revokeApiKey(id: string): Promise<void> {
    const res = await this.ds.getRepository(ApiKeyEntity).update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    if (!res.affected) throw notFound('api-key.not-found', `no active API key ${id}`);
    this.forget(id);
    this.cluster.publish('api-key-revoked', { id });
  }

  /** First start on an empty database: a system organization and an admin key, printed once (or taken from FLEETGUARD_ADMIN_KEY). */
  async onApplicationBootstrap(): Promise<void> {
    // Instances starting together on one empty database: one makes the system organization and the key, the others find them.
    await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
      await this.bootstrapAdmin(m);
    });
  }

  private async bootstrapAdmin(m: EntityManager): Promise<void> {
    const orgs = m.getRepository(OrganizationEntity);
    const keys = m.getRepository(ApiKeyEntity);
    let system = await orgs.findOne({ where: { kind: 'system' } });
    if (!system) system = await orgs.save(orgs.create({ id: randomUUID(), name: 'fleetguard-system', kind: 'system' }));
    if (this.config.adminKey) {
      const k = apiKeyFromText(this.config.adminKey);
      const existing = await keys.findOne({ where: parseApiKey(this.config.adminKey) ? { id: k.id } : { secretHash: k.secretHash } });
      if (!existing) {
        await keys.insert({ id: k.id, organizationId: system.id, roles: ['admin', 'auditor'], secretHash: k.secretHash, label: 'bootstrap (FLEETGUARD_ADMIN_KEY)', revokedAt: null });
        this.logger.log('bootstrap admin key taken from FLEETGUARD_ADMIN_KEY');
      }
      return;
    }
    if ((await keys.count()) === 0) {
      const g = generateApiKey();
      await keys.insert({ id: g.id, organizationId: system.id, roles: ['admin', 'auditor'], secretHash: g.secretHash, label: 'bootstrap (generated)', revokedAt: null });
      // Printed once, outside the structured log (which never carries secrets).
      process.stderr.write(`\nFleetguard admin API key (shown once, store it now):\n  ${g.key}\n\n`);
    }
  }
}
