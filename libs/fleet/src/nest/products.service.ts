import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { conflict, notFound, type ComponentType } from '@fleetguard/common';
import { Principal, hasRole } from '@fleetguard/auth/nest';
import { LevelVector, checkDeclaredRequirements } from '../core/product.rules';
import { REQUIREMENT_CATALOG, RequirementCatalogPort } from '../core/requirement-catalog.port';
import { ProductEntity } from '../entities/product.entity';

export interface NewProduct {
  name: string;
  componentType: ComponentType;
  declaredRequirements: string[];
  targetLevels: LevelVector;
  minSecurityCounter?: number;
}

@Injectable()
export class ProductsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(REQUIREMENT_CATALOG) private readonly catalog: RequirementCatalogPort,
  ) {}

  async create(p: Principal, input: NewProduct): Promise<ProductEntity> {
    checkDeclaredRequirements(input.declaredRequirements, this.catalog.knownRequirementIds(input.componentType), input.componentType);
    const repo = this.ds.getRepository(ProductEntity);
    if (await repo.findOne({ where: { organizationId: p.organizationId, name: input.name } })) {
      throw conflict('product.exists', `your organization has a product named '${input.name}' already`);
    }
    return repo.save(
      repo.create({
        id: randomUUID(),
        organizationId: p.organizationId,
        name: input.name,
        componentType: input.componentType,
        declaredRequirements: input.declaredRequirements,
        targetLevels: input.targetLevels,
        minSecurityCounter: input.minSecurityCounter ?? 0,
      }),
    );
  }

  /** Products the caller may see: a manufacturer its own; an operator those with devices or tokens assigned to it. */
  async list(p: Principal): Promise<ProductEntity[]> {
    const qb = this.ds.getRepository(ProductEntity).createQueryBuilder('p').orderBy('p.created_at', 'ASC');
    this.scope(qb, p);
    return qb.getMany();
  }

  /** A product the caller may see, else 404 (also for another tenant's). */
  async get(p: Principal, id: string): Promise<ProductEntity> {
    const qb = this.ds.getRepository(ProductEntity).createQueryBuilder('p').where('p.id = :id', { id });
    this.scope(qb, p);
    const product = await qb.getOne();
    if (!product) throw notFound('product.not-found', `no product ${id}`);
    return product;
  }

  /** A product the caller's organization owns (manufacturer writes), else 404. */
  async getOwned(p: Principal, id: string): Promise<ProductEntity> {
    const product = await this.ds.getRepository(ProductEntity).findOne({ where: { id, organizationId: p.organizationId } });
    if (!product) throw notFound('product.not-found', `no product ${id}`);
    return product;
  }

  private scope(qb: ReturnType<typeof this.ds.createQueryBuilder>, p: Principal): void {
    if (hasRole(p, 'admin')) return;
    if (p.organizationKind === 'manufacturer') {
      qb.andWhere('p.organization_id = :org', { org: p.organizationId });
    } else {
      qb.andWhere(
        `(EXISTS (SELECT 1 FROM devices d WHERE d.product_id = p.id AND d.operator_org_id = :org)
          OR EXISTS (SELECT 1 FROM enrollment_tokens t WHERE t.product_id = p.id AND t.operator_org_id = :org))`,
        { org: p.organizationId },
      );
    }
  }
}

export function toProductView(p: ProductEntity) {
  return {
    id: p.id,
    name: p.name,
    componentType: p.componentType,
    declaredRequirements: p.declaredRequirements,
    targetLevels: p.targetLevels,
    minSecurityCounter: p.minSecurityCounter,
    manufacturerId: p.organizationId,
    createdAt: p.createdAt,
  };
}
