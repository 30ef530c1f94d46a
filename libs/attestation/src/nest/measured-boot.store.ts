import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { notFound } from '@fleetguard/common';
import { Principal } from '@fleetguard/auth';
import { FirmwareService } from '@fleetguard/firmware';
import { ProductsService } from '@fleetguard/fleet';
import { MeasuredBootReference } from '../core/linux-evidence.appraisal';
import { GoldenBootState, MeasuredBootPolicy, parseMeasuredBootPolicy, recordGoldenBootState } from '../core/measured-boot.policy';
import { parseTcgEventLog, replayTcgEventLog } from '../core/tcg-event-log.parser';

/**
 * Golden measured-boot states (per release) and measured-boot policies (per product): the
 * tables measured_boot_golden_states and measured_boot_policies, owned by the attestation lib.
 */
@Injectable()
export class MeasuredBootStore {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly products: ProductsService,
    private readonly firmware: FirmwareService,
  ) {}

  /** Records the golden state of a release from a known-good device's raw TCG log. */
  async recordGoldenState(p: Principal, productId: string, version: string, log: Buffer) {
    await this.products.getOwned(p, productId);
    if (!(await this.firmware.findRelease(productId, version))) throw notFound('firmware.not-found', `no release ${version} for this product`);
    const parsed = parseTcgEventLog(log);
    const golden = recordGoldenBootState(parsed);
    const sha = createHash('sha256').update(log).digest('hex');
    await this.ds.query(
      `INSERT INTO measured_boot_golden_states (product_id, version, log_sha256, golden) VALUES ($1, $2, $3, $4)
       ON CONFLICT (product_id, version) DO UPDATE SET log_sha256 = EXCLUDED.log_sha256, golden = EXCLUDED.golden, created_at = now()`,
      [productId, version, sha, JSON.stringify(golden)],
    );
    return { version, logSha256: sha, events: golden.events.length, banks: golden.banks, pcrs: replayTcgEventLog(parsed) };
  }

  /** Stores a measured-boot policy (Keylime reference state or Fleetguard JSON), validated. */
  async setPolicy(p: Principal, productId: string, document: unknown) {
    await this.products.getOwned(p, productId);
    const policy = parseMeasuredBootPolicy(document);
    await this.ds.query(
      `INSERT INTO measured_boot_policies (product_id, source, policy, document) VALUES ($1, $2, $3, $4)
       ON CONFLICT (product_id) DO UPDATE SET source = EXCLUDED.source, policy = EXCLUDED.policy, document = EXCLUDED.document, updated_at = now()`,
      [productId, policy.source, JSON.stringify(policy), JSON.stringify(document)],
    );
    return { productId, source: policy.source, secureBoot: policy.secureBoot };
  }

  async getPolicy(p: Principal, productId: string) {
    await this.products.getOwned(p, productId);
    const rows: Array<{ source: string; document: unknown; updated_at: Date }> = await this.ds.query('SELECT source, document, updated_at FROM measured_boot_policies WHERE product_id = $1', [productId]);
    if (!rows[0]) throw notFound('measured-boot-policy.not-found', 'this product has no measured-boot policy');
    return { productId, source: rows[0].source, policy: rows[0].document, updatedAt: rows[0].updated_at };
  }

  /** For appraisal. */
  async find(productId: string, version: string): Promise<MeasuredBootReference> {
    const [golden, policy]: [Array<{ golden: GoldenBootState | string }>, Array<{ policy: MeasuredBootPolicy | string }>] = await Promise.all([
      this.ds.query('SELECT golden FROM measured_boot_golden_states WHERE product_id = $1 AND version = $2', [productId, version]),
      this.ds.query('SELECT policy FROM measured_boot_policies WHERE product_id = $1', [productId]),
    ]);
    const json = <T>(v: T | string | undefined): T | null => (v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as T) : v);
    return { golden: json(golden[0]?.golden), policy: json(policy[0]?.policy) };
  }
}
