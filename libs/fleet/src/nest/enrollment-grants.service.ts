import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { conflict, DomainError, invalid, notFound } from '@fleetguard/common';
import { AuthService, hasRole, Principal } from '@fleetguard/auth/nest';
import { returningRows } from '@fleetguard/persistence';

export interface EnrollmentGrantView {
  id: string;
  operatorOrganizationId: string;
  manufacturerOrganizationId: string;
  productId: string | null;
  maxDevices: number;
  usedDevices: number;
  expiresAt: string;
  withdrawnAt: string | null;
  createdAt: string;
}

interface GrantRow {
  id: string;
  operator_org_id: string;
  manufacturer_org_id: string;
  product_id: string | null;
  max_devices: number;
  used_devices: number;
  expires_at: Date;
  withdrawn_at: Date | null;
  created_at: Date;
}

const view = (r: GrantRow): EnrollmentGrantView => ({
  id: r.id,
  operatorOrganizationId: r.operator_org_id,
  manufacturerOrganizationId: r.manufacturer_org_id,
  productId: r.product_id,
  maxDevices: Number(r.max_devices),
  usedDevices: Number(r.used_devices),
  expiresAt: new Date(r.expires_at).toISOString(),
  withdrawnAt: r.withdrawn_at ? new Date(r.withdrawn_at).toISOString() : null,
  createdAt: new Date(r.created_at).toISOString(),
});

const COLUMNS = 'id, operator_org_id, manufacturer_org_id, product_id, max_devices, used_devices, expires_at, withdrawn_at, created_at';

/**
 * Operator consent for device assignment: an operator's enrollment grant lets one manufacturer
 * (for one product, or any) put up to `maxDevices` devices into the operator's fleet until it
 * expires or is withdrawn. Tokens that name an operator carry a grant; enrollment spends it.
 */
@Injectable()
export class EnrollmentGrantsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly auth: AuthService,
  ) {}

  async create(p: Principal, input: { manufacturerOrganizationId: string; productId?: string; maxDevices: number; expiresInSeconds: number }): Promise<EnrollmentGrantView> {
    const org = await this.auth.findOrganization(input.manufacturerOrganizationId);
    if (!org || org.kind !== 'manufacturer') throw notFound('organization.not-found', `no manufacturer organization ${input.manufacturerOrganizationId}`);
    if (input.productId) {
      const found: unknown[] = await this.ds.query('SELECT 1 FROM products WHERE id = $1 AND organization_id = $2', [input.productId, org.id]);
      if (!found.length) throw notFound('product.not-found', `no product ${input.productId} of manufacturer ${org.id}`);
    }
    const rows: GrantRow[] = await this.ds.query(
      `INSERT INTO enrollment_grants (id, operator_org_id, manufacturer_org_id, product_id, max_devices, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [randomUUID(), p.organizationId, org.id, input.productId ?? null, input.maxDevices, new Date(Date.now() + input.expiresInSeconds * 1000), p.keyId],
    );
    return view(rows[0]);
  }

  /** An operator's own grants, the grants made to a manufacturer, everything for a system key. */
  async list(p: Principal): Promise<EnrollmentGrantView[]> {
    const rows: GrantRow[] = hasRole(p, 'admin')
      ? await this.ds.query(`SELECT ${COLUMNS} FROM enrollment_grants ORDER BY created_at DESC, id LIMIT 1000`)
      : await this.ds.query(`SELECT ${COLUMNS} FROM enrollment_grants WHERE operator_org_id = $1 OR manufacturer_org_id = $1 ORDER BY created_at DESC, id LIMIT 1000`, [p.organizationId]);
    return rows.map(view);
  }

  /** Withdraws a grant: its unused tokens no longer enroll. Another operator's grant is not found. */
  async withdraw(p: Principal, id: string): Promise<void> {
    const rows: unknown[] = await this.ds.query(
      'UPDATE enrollment_grants SET withdrawn_at = COALESCE(withdrawn_at, now()) WHERE id = $1 AND operator_org_id = $2 RETURNING id',
      [id, p.organizationId],
    );
    if (!returningRows(rows).length) throw notFound('enrollment-grant.not-found', `no enrollment grant ${id}`);
  }

  /**
   * The grant a manufacturer names when minting tokens: its own (else not found), for this
   * product, usable and with room for `count` more devices. Returns the operator and the end
   * of the grant (tokens do not outlive it).
   */
  async forTokens(p: Principal, grantId: string, productId: string, count: number): Promise<{ operatorOrgId: string; expiresAt: Date }> {
    const rows: GrantRow[] = await this.ds.query(`SELECT ${COLUMNS} FROM enrollment_grants WHERE id = $1 AND manufacturer_org_id = $2`, [grantId, p.organizationId]);
    const g = rows[0];
    if (!g) throw notFound('enrollment-grant.not-found', `no enrollment grant ${grantId} for this manufacturer`);
    if (g.product_id && g.product_id !== productId) throw invalid('enrollment-grant.other-product', `enrollment grant ${grantId} is for product ${g.product_id}, not ${productId}`);
    assertUsable(g);
    const left = Number(g.max_devices) - Number(g.used_devices);
    if (count > left) throw conflict('enrollment-grant.exhausted', `enrollment grant ${grantId} has room for ${left} more device(s), not ${count}`);
    return { operatorOrgId: g.operator_org_id, expiresAt: new Date(g.expires_at) };
  }

  /** Why a grant could not be spent at enrollment (the token stays unused). */
  async refusal(grantId: string): Promise<DomainError> {
    const rows: GrantRow[] = await this.ds.query(`SELECT ${COLUMNS} FROM enrollment_grants WHERE id = $1`, [grantId]);
    const g = rows[0];
    try {
      if (g) assertUsable(g);
    } catch (e) {
      return new DomainError((e as DomainError).code, `the operator's consent for this token ended: ${(e as DomainError).message}`, 'forbidden');
    }
    return new DomainError('enrollment-grant.exhausted', "the operator's enrollment grant for this token has no device left", 'forbidden');
  }
}

function assertUsable(g: GrantRow): void {
  if (g.withdrawn_at) throw conflict('enrollment-grant.withdrawn', `enrollment grant ${g.id} was withdrawn by its operator`);
  if (new Date(g.expires_at).getTime() <= Date.now()) throw conflict('enrollment-grant.expired', `enrollment grant ${g.id} expired at ${new Date(g.expires_at).toISOString()}`);
  if (Number(g.used_devices) >= Number(g.max_devices)) throw conflict('enrollment-grant.exhausted', `enrollment grant ${g.id} has no device left`);
}
