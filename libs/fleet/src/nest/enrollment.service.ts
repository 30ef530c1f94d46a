import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPublicKey, randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig, DomainError, conflict, invalid, parseUeidHex } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { returningRows } from '@fleetguard/persistence';
import { AuditInput, AuditService, AuthService, Principal } from '@fleetguard/auth/nest';
import { FleetEventBus } from '@fleetguard/events';
import { CaService, CertificateStatusService, DeviceCertificatesService, CsrCheckService, IssuedDeviceCertificate, issuedCertificatesInsert } from '@fleetguard/pki/nest';
import { ParsedCsr } from '@fleetguard/pki';
import { GroupedCalls } from '../core/grouped-writes';
import { ENROLLMENT_TOKEN, hashEnrollmentToken, newDeviceId, newEnrollmentToken } from '../core/enrollment-token';
import { DeviceEntity } from '../entities/device.entity';
import { EnrollmentTokenEntity } from '../entities/enrollment-token.entity';
import { ProductsService } from './products.service';
import { EnrollmentGrantsService } from './enrollment-grants.service';

export interface EnrollmentResult {
  deviceId: string;
  certificate: string;
  chain: string;
  serial: string;
  notAfter: Date;
}

/** The body of POST /enroll once validated (EnrollDto's fields). */
export interface EnrollRequest {
  token: string;
  /** PKCS#10, PEM. */
  csr: string;
  akPublicKey?: string;
  iakPublicKey?: string;
  psaInstanceId?: string;
  psaImplementationId?: string;
  productId?: string;
  ueid?: string;
}

const denied = (code: string, message: string) => new DomainError(code, message, 'unauthorized');

type TokenRow = { id: string; product_id: string; used_at: Date | null; expires_at: Date; grant_id: string | null };

/** One enrollment's rows: the token to claim, the device, its certificate. */
interface EnrollmentRows {
  deviceId: string;
  tokenHash: string;
  keyType: string;
  spki: Buffer;
  ak: string | null;
  issued: IssuedDeviceCertificate;
  iak: string | null;
  psaInstanceId: string | null;
  psaImplementationId: string | null;
  /** RFC 9711 UEID (hex), unique among active devices (index devices_ueid_active). */
  ueid: string | null;
  /** The product the device says it is (refused if the token is for another). */
  productId: string | null;
  channel: 'enroll' | 'est';
}

/**
 * Claims the tokens (still unused, unexpired, of the product the device names if it names one, and
 * not bound to an operator's grant: those spend the grant in a transaction of their own) and
 * records the devices and certificates of a group of enrollments in one statement (the
 * certificates' INSERT is pki's, issuedCertificatesInsert, a CTE of it). Arrays travel
 * as text (hex for bytes, ISO for times), which node-postgres and PGlite pass alike. Two requests
 * with one token in a group: one row of enrollment_tokens is updated once, so one of them wins and
 * the other finds no claimed row.
 *
 * The statement also returns, for each input it did not claim, its token as this statement's
 * snapshot saw it (`claimed = false`): the caller says why (unknown, used, expired, other product)
 * or takes the grant path, without reading the token again. A token that looks usable but was not
 * claimed was claimed by a concurrent enrollment.
 *
 * The token hashes travel as `bpchar[]`, the column's type, and the claim names them with
 * `= ANY($2)` besides the join: as text the column was cast and its unique index could not be
 * used, so every group read the whole table (all tokens ever minted), and on a table without
 * statistics yet (tokens just minted) the planner joined every unused token with every input row.
 */
const GROUPED_ENROLLMENT_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bpchar[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::text[])
      AS i(device_id, token_hash, key_type, spki_hex, ak, serial, not_after, pem, not_before, iak, psa_instance_id, psa_implementation_id, ca_generation, ueid, product_id)),
  claimed AS (
    UPDATE enrollment_tokens t SET used_at = now(), device_id = i.device_id FROM input i
    WHERE t.token_hash = ANY($2::bpchar[]) AND t.token_hash = i.token_hash AND t.used_at IS NULL AND t.expires_at > now()
      AND (t.grant_id IS NULL OR $16::boolean) AND (i.product_id IS NULL OR t.product_id::text = i.product_id)
    RETURNING t.id, t.product_id, t.operator_org_id, t.device_id),
  device AS (
    INSERT INTO devices (id, product_id, manufacturer_org_id, operator_org_id, status, key_type, public_key_spki, ak_public_key, cert_serial, cert_not_after, iak_public_key, psa_instance_id, psa_implementation_id, ueid)
    SELECT c.device_id, c.product_id, p.organization_id, c.operator_org_id, 'active', i.key_type, decode(i.spki_hex, 'hex'), i.ak, i.serial, i.not_after::timestamptz, i.iak, i.psa_instance_id, i.psa_implementation_id, i.ueid
    FROM claimed c JOIN input i ON i.device_id = c.device_id JOIN products p ON p.id = c.product_id
    RETURNING id),
  issued AS (
    SELECT i.serial, d.id AS device_id, i.pem, i.not_before::timestamptz AS not_before, i.not_after::timestamptz AS not_after, i.ca_generation FROM device d JOIN input i ON i.device_id = d.id),
  certificate AS (${issuedCertificatesInsert('issued')})
  SELECT true AS claimed, i.device_id, c.id, c.product_id, p.organization_id, c.operator_org_id, NULL::timestamptz AS used_at, NULL::timestamptz AS expires_at, NULL::uuid AS grant_id
    FROM claimed c JOIN input i ON i.device_id = c.device_id JOIN products p ON p.id = c.product_id
  UNION ALL
  SELECT false, i.device_id, t.id, t.product_id, NULL, NULL, t.used_at, t.expires_at, t.grant_id
    FROM input i JOIN enrollment_tokens t ON t.token_hash = i.token_hash
    WHERE t.token_hash = ANY($2::bpchar[]) AND NOT EXISTS (SELECT 1 FROM claimed c WHERE c.device_id = i.device_id)`;

/** A row of GROUPED_ENROLLMENT_SQL: a claim, or the state of a token it did not claim. */
type ClaimRow = { claimed: boolean; device_id: string; id: string; product_id: string; organization_id: string | null; operator_org_id: string | null; used_at: Date | null; expires_at: Date | null; grant_id: string | null };

/** What one enrollment's claim found: claimed (with the audit entry written), or its token as it stands (none: no such token). */
type ClaimOutcome = { claimed: true; tokenId: string; productId: string; organizationId: string; operatorOrgId: string | null } | { claimed: false; token?: TokenRow };

/** GROUPED_ENROLLMENT_SQL's parameters: one array per column; `withGrant`: claim grant-bound tokens too (inside the grant's transaction). */
function enrollmentParams(group: readonly EnrollmentRows[], withGrant = false): unknown[] {
  const col = <T>(f: (r: EnrollmentRows) => T) => group.map(f);
  return [
    col((r) => r.deviceId),
    col((r) => r.tokenHash),
    col((r) => r.keyType),
    col((r) => r.spki.toString('hex')),
    col((r) => r.ak),
    col((r) => r.issued.serialHex),
    col((r) => r.issued.notAfter.toISOString()),
    col((r) => r.issued.certificatePem),
    col((r) => r.issued.notBefore.toISOString()),
    col((r) => r.iak),
    col((r) => r.psaInstanceId),
    col((r) => r.psaImplementationId),
    col((r) => r.issued.caGeneration),
    col((r) => r.ueid),
    col((r) => r.productId),
    withGrant,
  ];
}

/** The audit entry of one issued enrollment (written in the claim's transaction). */
function enrollmentAudit(r: EnrollmentRows, claim: { tokenId: string; productId: string; organizationId: string }): AuditInput {
  return {
    actor: `enrollment-token:${claim.tokenId}`,
    organizationId: claim.organizationId,
    action: r.channel === 'est' ? 'EST simpleenroll' : 'POST /enroll',
    resource: `devices/${r.deviceId}`,
    outcome: 'issued',
    details: { serial: r.issued.serialHex, productId: claim.productId, keyType: r.keyType, notAfter: r.issued.notAfter.toISOString(), caGeneration: r.issued.caGeneration, profile: 'device' },
  };
}

/**
 * Enrollment tokens (manufacturer side) and enrollment itself (device side): a single-use,
 * expiring token bound to a product (and optionally an operator) plus a CSR whose signature
 * proves possession of the key gives a device record and its certificate.
 */
@Injectable()
export class EnrollmentService {
  /**
   * The claims and inserts of concurrent enrollments and their audit entries, one transaction
   * and one claiming statement per group (no read of the tokens before: the statement reports
   * the tokens it did not claim).
   */
  readonly claims = new GroupedCalls<EnrollmentRows, ClaimOutcome>((group) => this.ds.transaction((m) => this.claimIn(m, group, false)), 64, 1);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly products: ProductsService,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
    private readonly ca: CaService,
    private readonly status: CertificateStatusService,
    private readonly certificates: DeviceCertificatesService,
    private readonly csrCheck: CsrCheckService,
    private readonly grants: EnrollmentGrantsService,
    private readonly events: FleetEventBus,
  ) {}

  /**
   * Tokens of a product. A device gets an operator only with that operator's consent: the token
   * names the operator's enrollment grant (`grantId`); `operatorOrganizationId` alone is refused.
   */
  async createTokens(p: Principal, productId: string, count: number, expiresInSeconds: number, operatorOrganizationId?: string, grantId?: string): Promise<{ tokens: string[]; expiresAt: Date }> {
    await this.products.getOwned(p, productId);
    let expiresAt = new Date(Date.now() + expiresInSeconds * 1000);
    let operatorOrgId: string | null = null;
    if (grantId) {
      const grant = await this.grants.forTokens(p, grantId, productId, count);
      if (operatorOrganizationId && operatorOrganizationId !== grant.operatorOrgId) {
        throw invalid('enrollment-grant.other-operator', `enrollment grant ${grantId} is not from operator ${operatorOrganizationId}`);
      }
      operatorOrgId = grant.operatorOrgId;
      if (grant.expiresAt < expiresAt) expiresAt = grant.expiresAt;
    } else if (operatorOrganizationId) {
      throw new DomainError(
        'enrollment-grant.required',
        "putting devices into an operator's fleet needs that operator's consent: name its enrollment grant (grantId, from POST /api/v1/enrollment-grants by the operator) instead of operatorOrganizationId",
        'forbidden',
      );
    }
    const made = Array.from({ length: count }, () => newEnrollmentToken());
    await this.ds.getRepository(EnrollmentTokenEntity).insert(
      made.map((t) => ({ id: randomUUID(), tokenHash: t.hash, productId, operatorOrgId, grantId: grantId ?? null, createdBy: p.keyId, expiresAt, usedAt: null, deviceId: null })),
    );
    return { tokens: made.map((t) => t.token), expiresAt };
  }

  /**
   * POST /enroll (EnrollmentController, or its plain-body path outside Nest's router): the CSR is
   * checked first, then the token is claimed and the certificate stored (enroll).
   */
  async enrollRequest(body: EnrollRequest): Promise<{ deviceId: string; certificate: string; chain: string }> {
    // The check and the signature in one round trip to the CSR workers (the certificate is only
    // handed out once the token is claimed, as in enroll).
    const deviceId = newDeviceId();
    const { csr, issued } = await this.ca.checkAndIssueDeviceCertificate(this.csrCheck, body.csr, { minRsaBits: this.config.rsaMinBits }, deviceId, this.config.certValidityDays);
    const r = await this.enroll({ token: body.token, csr, akPublicKey: body.akPublicKey, psa: { iakPublicKey: body.iakPublicKey, instanceId: body.psaInstanceId, implementationId: body.psaImplementationId }, productId: body.productId, ueid: body.ueid, channel: 'enroll', issued: { deviceId, certificate: issued } });
    return { deviceId: r.deviceId, certificate: r.certificate, chain: r.chain };
  }

  /** Checks the request itself before any token is spent: a bad CSR leaves the token usable. */
  async checkCsr(csr: string | Buffer): Promise<ParsedCsr> {
    return this.csrCheck.check(csr, { minRsaBits: this.config.rsaMinBits });
  }

  /** `issued`: the certificate already made for this request's key (checkAndIssueDeviceCertificate), for the device id it names. */
  async enroll(input: { token: string; csr: ParsedCsr; akPublicKey?: string; psa?: PsaEnrollment; productId?: string; ueid?: string; channel: 'enroll' | 'est'; issued?: { deviceId: string; certificate: IssuedDeviceCertificate } }): Promise<EnrollmentResult> {
    const akPem = input.akPublicKey ? normaliseAk(input.akPublicKey) : null;
    const ueid = input.ueid === undefined ? null : checkedUeid(input.ueid);
    const iakPem = input.psa?.iakPublicKey ? normaliseIak(input.psa.iakPublicKey) : null;
    if (!ENROLLMENT_TOKEN.test(input.token)) throw denied('enrollment.bad-token', 'the enrollment token is not valid');
    if (ueid) await this.assertUeidFree(ueid);
    const deviceId = input.issued?.deviceId ?? newDeviceId();
    // Signed outside any transaction, before the token is looked at: a bad token costs a signature
    // (far less than the request itself), a good one a single statement. The certificate leaves
    // only after the claim committed.
    const issued = input.issued?.certificate ?? (await this.issue(deviceId, input.csr));
    const rows: EnrollmentRows = {
      deviceId,
      tokenHash: hashEnrollmentToken(input.token),
      keyType: input.csr.keyType,
      spki: Buffer.from(input.csr.publicKeySpkiDer),
      ak: akPem,
      issued,
      iak: iakPem,
      psaInstanceId: input.psa?.instanceId?.toLowerCase() ?? null,
      psaImplementationId: input.psa?.implementationId?.toLowerCase() ?? null,
      ueid,
      productId: input.productId ?? null,
      channel: input.channel,
    };
    // One statement claims the token (only if still unused, unexpired, of the product, without a
    // grant) and records the device, its certificate and the audit entry, atomically.
    let outcome = await this.claims.run(rows).catch(ueidTaken);
    if (!outcome.claimed) {
      const token = outcome.token;
      if (!token) throw denied('enrollment.bad-token', 'the enrollment token is not valid');
      this.checkToken(token, input.productId);
      if (!token.grant_id) throw new DomainError('enrollment.token-used', 'the enrollment token was used already', 'conflict');
      outcome = await this.claimWithGrant(token.grant_id, rows);
      if (!outcome.claimed) {
        if (outcome.token) this.checkToken(outcome.token, input.productId);
        throw new DomainError('enrollment.token-used', 'the enrollment token was used already', 'conflict');
      }
    }
    this.status.noteIssued(issued.serialHex, deviceId, issued.notAfter);
    // Committed (the group's transaction, or the grant's): the device exists from now on.
    this.events.publish('device.enrolled', {
      deviceId,
      audience: [outcome.organizationId, outcome.operatorOrgId],
      data: { status: 'active', productId: outcome.productId, serial: issued.serialHex, notAfter: issued.notAfter.toISOString(), channel: input.channel },
    });
    return { deviceId, certificate: issued.certificatePem, chain: this.ca.chainPem, serial: issued.serialHex, notAfter: issued.notAfter };
  }

  /** GROUPED_ENROLLMENT_SQL in `m`, then the audit entries of what it claimed; one outcome per input, in order. */
  private async claimIn(m: EntityManager, group: readonly EnrollmentRows[], withGrant: boolean): Promise<ClaimOutcome[]> {
    const rows = returningRows<ClaimRow>(await m.query(GROUPED_ENROLLMENT_SQL, enrollmentParams(group, withGrant)));
    const byDevice = new Map(rows.map((r) => [r.device_id, r]));
    const outcomes = group.map((g): ClaimOutcome => {
      const r = byDevice.get(g.deviceId);
      if (!r) return { claimed: false };
      if (!r.claimed) return { claimed: false, token: { id: r.id, product_id: r.product_id, used_at: r.used_at, expires_at: r.expires_at!, grant_id: r.grant_id } };
      return { claimed: true, tokenId: r.id, productId: r.product_id, organizationId: r.organization_id!, operatorOrgId: r.operator_org_id };
    });
    await this.audit.appendManyIn(
      m,
      group.flatMap((g, i) => {
        const o = outcomes[i];
        return o.claimed ? [enrollmentAudit(g, o)] : [];
      }),
    );
    return outcomes;
  }

  /**
   * The operator's consent: one device of its grant is spent with the claim, in one transaction
   * (the grant row lock orders racing enrollments; a claim that fails gives the device back).
   */
  private async claimWithGrant(grantId: string, rows: EnrollmentRows): Promise<ClaimOutcome> {
    const outcome = await this.ds
      .transaction(async (m) => {
        const spent = returningRows(
          await m.query(
            `UPDATE enrollment_grants SET used_devices = used_devices + 1
             WHERE id = $1 AND used_devices < max_devices AND expires_at > now() AND withdrawn_at IS NULL RETURNING id`,
            [grantId],
          ),
        );
        if (!spent.length) return { refused: true as const };
        const [got] = await this.claimIn(m, [rows], true);
        if (!got.claimed) throw new ClaimLost(got);
        return { refused: false as const, got };
      })
      .catch((e) => {
        if (e instanceof ClaimLost) return { refused: false as const, got: e.outcome };
        return ueidTaken(e);
      });
    if (outcome.refused) throw await this.grants.refusal(grantId);
    return outcome.got;
  }

  private async assertUeidFree(ueid: string): Promise<void> {
    const rows = await this.ds.query(`SELECT id FROM devices WHERE ueid = $1 AND status = 'active' LIMIT 1`, [ueid]);
    if (rows.length) throw conflict('enrollment.ueid-taken', 'this UEID is already enrolled for an active device (a UEID names one entity, RFC 9711 4.2.1)');
  }

  private checkToken(token: { used_at: Date | null; expires_at: Date; product_id: string }, productId?: string): void {
    if (token.used_at) throw new DomainError('enrollment.token-used', 'the enrollment token was used already', 'conflict');
    if (new Date(token.expires_at).getTime() < Date.now()) throw new DomainError('enrollment.token-expired', 'the enrollment token has expired', 'gone');
    if (productId && productId !== token.product_id) {
      throw new DomainError('enrollment.wrong-product', 'the enrollment token belongs to another product', 'forbidden');
    }
  }

  /**
   * Renewal over mutual TLS (EST simplereenroll): the presented certificate (valid, or expired
   * within the grace period, and not revoked) names the device; the new CSR must ask for the
   * same subject. The new key may differ.
   */
  async reenroll(device: { deviceId: string; serialHex: string }, csr: ParsedCsr): Promise<EnrollmentResult> {
    if (csr.commonName !== device.deviceId) {
      throw new DomainError('enrollment.subject-mismatch', `the request asks for CN=${csr.commonName ?? '(none)'} but the client certificate is CN=${device.deviceId}`, 'forbidden');
    }
    const issued = await this.ds.transaction(async (m) => {
      const row = await m.getRepository(DeviceEntity).createQueryBuilder('d').setLock('pessimistic_write').where('d.id = :id', { id: device.deviceId }).getOne();
      if (!row || row.status !== 'active') throw denied('enrollment.device-revoked', 'this device is revoked');
      // Only the device's current certificate renews (a superseded one, e.g. a stolen old key,
      // does not); under the row lock, so of parallel renewals with one certificate one wins.
      if (row.certSerial !== device.serialHex) throw denied('enrollment.certificate-superseded', 'this certificate was superseded: renew with the current one');
      // A forced re-key (POST /api/v1/pki/rekey): the current key is not certified again.
      const sameKey = Buffer.from(row.publicKeySpki).equals(Buffer.from(csr.publicKeySpkiDer));
      if (row.rekeyRequestedAt && sameKey) {
        throw new DomainError('enrollment.rekey-required', `a new key is required for this device (${row.rekeyReason ?? 're-key requested'}): make a new key pair and send its CSR`, 'forbidden');
      }
      const cert = await this.issue(device.deviceId, csr);
      // pki's certificates, in this transaction: the new one stored, the one presented superseded.
      await this.certificates.recordRenewal(m, device.deviceId, cert, device.serialHex);
      await m.getRepository(DeviceEntity).update({ id: device.deviceId }, { certSerial: cert.serialHex, certNotAfter: cert.notAfter, publicKeySpki: csr.publicKeySpkiDer, keyType: csr.keyType, rekeyRequestedAt: null, rekeyReason: null });
      await this.audit.appendIn(m, {
        actor: `device:${device.deviceId}`,
        organizationId: row.manufacturerOrgId,
        action: 'EST simplereenroll',
        resource: `devices/${device.deviceId}`,
        outcome: 'issued',
        details: { serial: cert.serialHex, previous: device.serialHex, caGeneration: cert.caGeneration, newKey: !sameKey, rekeyed: !!row.rekeyRequestedAt, profile: 'device' },
      });
      return cert;
    });
    this.status.noteIssued(issued.serialHex, device.deviceId, issued.notAfter);
    return { deviceId: device.deviceId, certificate: issued.certificatePem, chain: this.ca.chainPem, serial: issued.serialHex, notAfter: issued.notAfter };
  }

  private issue(deviceId: string, csr: ParsedCsr): Promise<IssuedDeviceCertificate> {
    return this.ca.issueDeviceCertificate(deviceId, csr, this.config.certValidityDays);
  }
}

/** The UEID as stored (lowercase hex), after RFC 9711's creation rules. */
function checkedUeid(text: string): string {
  const r = parseUeidHex(text);
  if ('problem' in r) throw invalid('enrollment.bad-ueid', `ueid: ${r.problem}`);
  return r.ueid.toString('hex');
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: unknown; driverError?: { code?: unknown }; message?: unknown };
  return err?.code === '23505' || err?.driverError?.code === '23505' || /duplicate key|unique constraint/i.test(String(err?.message ?? ''));
}

/** PSA identities a TF-M device registers at enrollment (SPEC "Evidence formats devices really produce"). */
export interface PsaEnrollment {
  iakPublicKey?: string;
  /** hex, 33 bytes (RAND UEID). */
  instanceId?: string;
  /** hex, 32 bytes. */
  implementationId?: string;
}

/** The PSA Initial Attestation Key: an EC public key on P-256, P-384 or P-521 (ES256/384/512). */
function normaliseIak(pem: string): string {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ec' || !['prime256v1', 'secp384r1', 'secp521r1'].includes(key.asymmetricKeyDetails?.namedCurve ?? '')) throw new Error('type');
    return key.export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw invalid('enrollment.bad-iak', 'iakPublicKey must be a PEM public key on EC P-256, P-384 or P-521 (the PSA Initial Attestation Key)');
  }
}

/** The attestation key a device registers at enrollment: a PEM public key (EC or RSA). */
function normaliseAk(pem: string): string {
  try {
    const key = createPublicKey(pem);
    if (!['ec', 'rsa', 'rsa-pss'].includes(key.asymmetricKeyType ?? '')) throw new Error('type');
    return key.export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw invalid('enrollment.bad-ak', 'akPublicKey must be a PEM public key (EC or RSA) of the TPM attestation key');
  }
}

/** Thrown inside the grant transaction to roll the spent device back when the token was claimed meanwhile. */
class ClaimLost extends Error {
  constructor(readonly outcome: ClaimOutcome) {
    super('enrollment token claimed meanwhile');
  }
}

/**
 * Two enrollments with one UEID at the same moment: the unique index decides (a failed group is
 * retried one by one, so only the request that lost gets this).
 */
function ueidTaken(e: unknown): never {
  if (isUniqueViolation(e)) throw conflict('enrollment.ueid-taken', 'this UEID is already enrolled for an active device');
  throw e;
}
