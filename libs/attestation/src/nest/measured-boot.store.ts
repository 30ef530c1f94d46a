import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { notFound } from '@fleetguard/common';
import { Principal } from '@fleetguard/auth/nest';
import { FirmwareService } from '@fleetguard/firmware/nest';
import { ProductsService } from '@fleetguard/fleet/nest';
import { MeasuredBootReference } from '../core/linux-evidence.appraisal';
import { GoldenBootState, MeasuredBootPolicy, parseMeasuredBootPolicy, recordGoldenBootState } from '../core/measured-boot.policy';
import { ImaDeviceState, parseRuntimePolicy, RuntimePolicy } from '../core/ima-runtime.policy';
import { parseTcgEventLog, replayTcgEventLog } from '../core/tcg-event-log.parser';

/**
 * Linux device reference values and state, owned by the attestation lib: golden measured-boot
 * states (per release), measured-boot and runtime (IMA) policies (per product), and the
 * running IMA state per device (tables measured_boot_golden_states, measured_boot_policies,
 * runtime_policies, ima_device_states).
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

  /** Stores a Keylime runtime policy v1 (IMA allowlist), validated. */
  async setRuntimePolicy(p: Principal, productId: string, document: unknown) {
    await this.products.getOwned(p, productId);
    const policy = parseRuntimePolicy(document);
    await this.ds.query(
      `INSERT INTO runtime_policies (product_id, policy) VALUES ($1, $2)
       ON CONFLICT (product_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()`,
      [productId, JSON.stringify(policy)],
    );
    return { productId, paths: Object.keys(policy.digests).length, excludes: policy.excludes.length };
  }

  async findRuntimePolicy(productId: string): Promise<RuntimePolicy | null> {
    const rows: Array<{ policy: RuntimePolicy | string }> = await this.ds.query('SELECT policy FROM runtime_policies WHERE product_id = $1', [productId]);
    const v = rows[0]?.policy;
    return v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as RuntimePolicy) : v;
  }

  async loadImaState(deviceId: string): Promise<ImaDeviceState | null> {
    const rows: Array<{ boot_log_sha256: string; entries: number; pcr10: ImaDeviceState['pcr10'] | string }> = await this.ds.query('SELECT boot_log_sha256, entries, pcr10 FROM ima_device_states WHERE device_id = $1', [deviceId]);
    const r = rows[0];
    if (!r) return null;
    return { bootLogSha256: r.boot_log_sha256, entries: Number(r.entries), pcr10: typeof r.pcr10 === 'string' ? JSON.parse(r.pcr10) : r.pcr10 };
  }

  /** `db`: the appraisal's transaction, so the state commits with the result. Keeps the state only moving forward within a boot (a late, older appraisal cannot roll it back). */
  async saveImaState(deviceId: string, state: ImaDeviceState, db: { query: DataSource['query'] } = this.ds): Promise<void> {
    await db.query(
      `INSERT INTO ima_device_states (device_id, boot_log_sha256, entries, pcr10) VALUES ($1, $2, $3, $4)
       ON CONFLICT (device_id) DO UPDATE SET boot_log_sha256 = EXCLUDED.boot_log_sha256, entries = EXCLUDED.entries, pcr10 = EXCLUDED.pcr10, updated_at = now()
       WHERE ima_device_states.boot_log_sha256 <> EXCLUDED.boot_log_sha256 OR ima_device_states.entries <= EXCLUDED.entries`,
      [deviceId, state.bootLogSha256, state.entries, JSON.stringify(state.pcr10)],
    );
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
