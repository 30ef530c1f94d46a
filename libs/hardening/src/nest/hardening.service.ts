import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { AppConfig, CoalescedBatches, GroupedCall, KeyedRateLimiter, isDomainError, notFound, rateLimited } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter } from '@fleetguard/platform';
import type { Principal } from '@fleetguard/auth/nest';
import { BrokerService, MqttInbound, type DeviceConnection, type InboundOutcome } from '@fleetguard/broker/nest';
import { FleetEventBus, type AttestationResultData, type AttestationStaleData, type OperatorEvent, type Unsubscribe } from '@fleetguard/events';
import { DevicesService, ProductsService } from '@fleetguard/fleet/nest';
import {
  assertComponentType,
  COMPONENT_TYPES,
  FR_KEYS,
  LIFECYCLE_FACTS,
  lifecycleFindings,
  parseApplicabilityBody,
  negotiatedTlsVersion,
  validateHardeningReport,
  type ApplicabilityStatement,
  type AttestationInput,
  type HardeningReport,
  type LifecycleFactsPort,
  type LifecycleFinding,
  type Scorer,
  type SlVector,
} from '../core';
import { HardeningRepository, type ProductScoringRow, type ScoringSubject } from './hardening.repository';
import { planWrite, productScoring, rescoreAll, scoreStoredDevices, scoreSubject, type RescoreAllResult, type ScoreChange, type ScoredDevice, type ScoringClock } from './rescore.batch';
import { ScorerCache } from './scorer.cache';
import { isBelowTarget, scoringAttestation, type ScoreCause } from './scoring-inputs';
import { toCatalogView, toScoreView, withApplicable, type CatalogView, type ScoreView } from './score.view';

const reports = counter('fleetguard_hardening_reports_total', 'Hardening reports received, by channel and outcome', ['channel', 'outcome']);
const rescores = counter('fleetguard_hardening_rescores_total', 'Device scores computed, by cause', ['cause']);

export const SCORE_HISTORY_LIMIT = 50;
/** Most devices one attestation rescore batch scores (its statements take arrays of this size). */
const ATTESTATION_BATCH = 500;

/** An attestation event waiting for its device's batch rescore. */
interface PendingAttestation {
  cause: ScoreCause;
  hint?: { status: string; at: Date };
  /** Affirming results whose observations are recorded before the rescore. */
  resultIds: string[];
}

export interface RescoreResult {
  deviceId: string;
  evidenced: SlVector;
  declared: SlVector;
  belowTarget: boolean;
}

/** A device scored for an assessment, with the evidence its score rests on. */
export type { ScoredDevice } from './rescore.batch';

export interface SubmittedReport extends RescoreResult {
  reportId: string;
  receivedAt: Date;
}

/**
 * Hardening reports in (device HTTP API and MQTT), SL-C scores out: every report is validated,
 * stored, and the device rescored; attestation results rescore the device too (a failed or stale
 * attestation contradicts the integrity requirements). Scores are kept as history entries and as
 * the device's current levels; changes are published as `score.changed` / `score.below-target`.
 */
@Injectable()
export class HardeningService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Hardening');
  /** Per device, the tail of its rescores: one device is scored by one rescore at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly subscriptions: Unsubscribe[] = [];
  /** Attestation events by device, rescored together after FLEETGUARD_FOLLOWUP_WINDOW_MS (one entry per device, the newest hint wins). */
  private readonly attestationPending: CoalescedBatches<string, PendingAttestation>;
  /** The TLS of connections made at once, recorded in one statement (a device once per statement). */
  private readonly tlsSeen = new GroupedCall<Parameters<HardeningRepository['recordTlsMany']>[0][number], boolean>(
    (seen) => this.repo.recordTlsMany(seen),
    (s) => [s.deviceId],
  );
  private catalog?: CatalogView;
  /** Reports per device and minute (FLEETGUARD_DEVICE_RATE_PER_MINUTE, burst 2×); refusals counted. */
  private rate?: KeyedRateLimiter;

  constructor(
    private readonly repo: HardeningRepository,
    private readonly scorers: ScorerCache,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: FleetEventBus,
    private readonly broker: BrokerService,
    private readonly devices: DevicesService,
    private readonly products: ProductsService,
    /** Bound at the composition root to the lifecycle's reader; absent, the view has no lifecycle findings. */
    @Optional() @Inject(LIFECYCLE_FACTS) private readonly lifecycle?: LifecycleFactsPort,
  ) {
    this.attestationPending = new CoalescedBatches<string, PendingAttestation>({
      windowMs: config.followupWindowMs,
      maxBatch: ATTESTATION_BATCH,
      run: (batch) => this.rescoreBatch(batch),
      onError: (err, size) => this.logger.error(`rescoring ${size} device(s) after attestation failed: ${(err as Error)?.stack ?? String(err)}`),
    });
  }

  onModuleInit(): void {
    for (const t of COMPONENT_TYPES) this.scorers.scorer(t); // rules and catalog errors surface at boot
    this.broker.onDeviceConnected((c) => this.observeConnection(c));
    this.subscriptions.push(
      this.events.on('attestation.result', (e) => this.onAttestationResult(e)),
      this.events.on('attestation.stale', (e) => this.onAttestationStale(e)),
    );
  }

  async onModuleDestroy(): Promise<void> {
    for (const off of this.subscriptions.splice(0)) off();
    const deadline = new Promise((r) => setTimeout(r, 5000).unref());
    // Results already received are rescored now, not after their window.
    await Promise.race([this.attestationPending.flush().then(() => Promise.allSettled([...this.inFlight])), deadline]);
  }

  /* ------------------------------------------------------------------ reports */

  /**
   * Validates a report (parsed JSON, JSON text or its bytes), stores it and rescores the device.
   * Throws `hardening.invalid-report` (400) naming the problems, `device.not-found` for a device
   * that is not active.
   */
  async submitReport(deviceId: string, raw: unknown, channel: 'mqtt' | 'http', connection?: Omit<DeviceConnection, 'deviceId'>): Promise<SubmittedReport> {
    const stored = await this.storeReport(deviceId, raw, channel);
    if (connection) await this.recordConnection({ deviceId, ...connection });
    const score = await this.rescore(deviceId, 'report');
    if (!score) throw notFound('device.not-found', `no device ${deviceId}`);
    return { ...stored, ...score };
  }

  private async storeReport(deviceId: string, raw: unknown, channel: 'mqtt' | 'http'): Promise<{ reportId: string; receivedAt: Date; duplicate?: boolean }> {
    this.rate ??= new KeyedRateLimiter(this.config.deviceRatePerMinute, this.config.deviceRatePerMinute * 2);
    if (!this.rate.take(deviceId)) {
      reports.inc({ channel, outcome: 'rate-limited' });
      throw rateLimited('hardening.rate-limited', `more than ${this.rate.ratePerMinute} hardening reports a minute`, this.rate.retryAfterSeconds(deviceId));
    }
    let report: HardeningReport;
    try {
      report = validateHardeningReport(Buffer.isBuffer(raw) ? raw.toString('utf8') : raw);
    } catch (e) {
      reports.inc({ channel, outcome: 'invalid' });
      throw e;
    }
    const stored = await this.repo.insertReport(deviceId, report, channel);
    if (!stored) {
      reports.inc({ channel, outcome: 'unknown-device' });
      throw notFound('device.not-found', `no active device ${deviceId}`);
    }
    reports.inc({ channel, outcome: stored.duplicate ? 'duplicate' : 'stored' });
    return { reportId: stored.id, receivedAt: stored.receivedAt, duplicate: stored.duplicate };
  }

  /** MQTT (`fleet/v1/devices/<id>/hardening`): acknowledged once stored; the rescore follows (a failure there is logged, the report stays). */
  @MqttInbound('hardening')
  async receiveMqtt(deviceId: string, payload: Buffer): Promise<InboundOutcome> {
    let stored;
    try {
      stored = await this.storeReport(deviceId, payload, 'mqtt');
    } catch (e) {
      if (isDomainError(e)) return { ack: false, code: e.code, message: e.message };
      throw e;
    }
    if (!stored.duplicate) this.rescoreInBackground(deviceId, 'report');
    return { ack: true };
  }

  /* ------------------------------------------------------------------ observations */

  /**
   * A device connection the broker accepted: its negotiated TLS is recorded, and the device
   * rescored when that showed something new (a reconnect storm of known devices rescores nobody).
   */
  private observeConnection(c: DeviceConnection): void {
    void this.recordConnection(c)
      .then((changed) => changed && this.rescoreInBackground(c.deviceId, 'observation'))
      .catch((err) => this.logger.error(`recording the TLS of ${c.deviceId} failed: ${(err as Error).message}`));
  }

  private async recordConnection(c: DeviceConnection): Promise<boolean> {
    const version = negotiatedTlsVersion(c.protocol);
    if (!version || !c.cipher) return false;
    return this.tlsSeen.call({ deviceId: c.deviceId, version, cipher: c.cipher, mutual: c.mutualTls });
  }

  /* ------------------------------------------------------------------ scoring */

  /**
   * Attestation results and stale notices rescore their devices in batches: whatever arrives while
   * a batch is being scored goes into the next one (one entry per device, the newest hint wins),
   * so a burst of results costs a few statements per batch, not per result.
   */
  private onAttestationResult(e: OperatorEvent<AttestationResultData>): void {
    // What an affirming result showed (its release, a verified TPM quote) is recorded before the rescore.
    if (e.deviceId) this.queueAttestationRescore(e.deviceId, 'attestation', { status: e.data.status, at: new Date(e.data.at) }, e.data.status === 'affirming' ? e.data.resultId : undefined);
  }

  private onAttestationStale(e: OperatorEvent<AttestationStaleData>): void {
    if (e.deviceId) this.queueAttestationRescore(e.deviceId, 'attestation-stale');
  }

  private queueAttestationRescore(deviceId: string, cause: ScoreCause, hint?: { status: string; at: Date }, affirmingResultId?: string): void {
    this.attestationPending.add(deviceId, (pending) => {
      const entry = pending ?? { cause, resultIds: [] };
      entry.cause = cause;
      if (hint && (!entry.hint || entry.hint.at.getTime() <= hint.at.getTime())) entry.hint = hint;
      if (affirmingResultId) entry.resultIds.push(affirmingResultId);
      return entry;
    });
  }

  /** One batch: waits for the devices' earlier rescores, holds their queues until it is written. */
  private rescoreBatch(batch: Array<[string, PendingAttestation]>): Promise<void> {
    const ids = batch.map(([id]) => id);
    const run = Promise.all(ids.map((id) => this.queues.get(id) ?? Promise.resolve())).then(() => this.rescoreBatchNow(batch));
    const tail = run.catch(() => undefined);
    for (const id of ids) this.queues.set(id, tail);
    this.inFlight.add(tail);
    void tail.then(() => {
      this.inFlight.delete(tail);
      for (const id of ids) if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return run;
  }

  private async rescoreBatchNow(batch: Array<[string, PendingAttestation]>): Promise<void> {
    const recorded = batch.flatMap(([deviceId, p]) => p.resultIds.map((resultId) => ({ deviceId, resultId })));
    if (recorded.length) {
      await this.repo.recordAttestations(recorded).catch((err) => this.logger.error(`recording ${recorded.length} attestation result(s) failed: ${(err as Error).message}`));
    }
    const pending = new Map(batch);
    const { subjects, products } = await this.repo.subjectsWithProducts(batch.map(([id]) => id));
    const clock = this.clock();
    const writes = [];
    const changes: ScoreChange[] = [];
    for (const s of subjects) {
      const product = products.get(s.productId);
      const p = pending.get(s.deviceId);
      if (!product || !p) continue;
      const scoring = productScoring(this.scorers, product);
      const score = scoreSubject(s, scoring, clock, this.attestationWithHint(s, clock, p.hint));
      rescores.inc({ cause: p.cause });
      const { write, change } = planWrite(s, score, scoring.target, p.cause);
      if (write.history || write.update) {
        writes.push(write);
        if (change) changes.push(change);
      }
    }
    if (!writes.length) return;
    const written = await this.repo.writeScores(writes);
    this.publish(changes.filter((c) => written.has(c.deviceId)));
  }

  private rescoreInBackground(deviceId: string, cause: ScoreCause, hint?: { status: string; at: Date }): void {
    void this.rescore(deviceId, cause, hint).catch((err) =>
      this.logger.error(`rescoring ${deviceId} (${cause}) failed: ${(err as Error).stack ?? String(err)}`),
    );
  }

  /**
   * Scores a device from its latest report and its attestation state, stores the result (history
   * and current levels) and publishes the change. Rescores of one device run one after another.
   * `hint`: an attestation result the device row may not show yet (used only when newer).
   * Null when the device does not exist.
   */
  rescore(deviceId: string, cause: ScoreCause, hint?: { status: string; at: Date }): Promise<RescoreResult | null> {
    const previous = this.queues.get(deviceId) ?? Promise.resolve();
    const run = previous.then(() => this.rescoreNow(deviceId, cause, hint));
    const tail = run.catch(() => undefined);
    this.queues.set(deviceId, tail);
    this.inFlight.add(tail);
    void tail.then(() => {
      this.inFlight.delete(tail);
      if (this.queues.get(deviceId) === tail) this.queues.delete(deviceId);
    });
    return run;
  }

  private async rescoreNow(deviceId: string, cause: ScoreCause, hint?: { status: string; at: Date }): Promise<RescoreResult | null> {
    const { subjects: [subject], products } = await this.repo.subjectsWithProducts([deviceId]);
    if (!subject) return null;
    const product = products.get(subject.productId);
    if (!product) return null;
    const p = productScoring(this.scorers, product);
    const clock = this.clock();
    const score = scoreSubject(subject, p, clock, this.attestationWithHint(subject, clock, hint));
    rescores.inc({ cause });
    const { write, change } = planWrite(subject, score, p.target, cause);
    if (write.history || write.update) {
      const written = await this.repo.writeScores([write]);
      if (change && written.has(deviceId)) this.publish([change]);
    }
    return { deviceId, evidenced: score.evidenced, declared: score.declared, belowTarget: write.belowTarget };
  }

  /** An attestation result newer than the device row's (the event came before the row): scored as the event says. */
  private attestationWithHint(s: ScoringSubject, clock: ScoringClock, hint?: { status: string; at: Date }): AttestationInput | undefined {
    if (!hint || (s.attestationAt && s.attestationAt.getTime() >= hint.at.getTime())) return undefined;
    return scoringAttestation(
      { attestationStatus: hint.status, attestationAt: hint.at, affirmedAt: hint.status === 'affirming' ? hint.at : s.affirmedAt },
      clock.now,
      clock.intervalSeconds,
    );
  }

  /**
   * Rescores every active device in batches (after a change of rules or catalog, or on demand);
   * publishes the changes like single rescores do.
   */
  rescoreAll(cause: ScoreCause = 'rescore-all'): Promise<RescoreAllResult> {
    return rescoreAll(this.repo, this.scorers, {
      intervalSeconds: this.config.attestIntervalSeconds,
      cause,
      onChanges: (changes) => this.publish(changes),
    });
  }

  private publish(changes: readonly ScoreChange[]): void {
    for (const c of changes) {
      this.events.publish('score.changed', {
        deviceId: c.deviceId,
        audience: c.audience,
        data: { evidenced: c.evidenced, declared: c.declared, belowTarget: c.belowTarget, target: c.target, previous: c.previous, cause: c.cause },
      });
      if (c.becameBelowTarget) {
        const below = FR_KEYS.filter((k) => c.evidenced[k] < (c.target[k] ?? 0));
        this.events.publish('score.below-target', {
          deviceId: c.deviceId,
          audience: c.audience,
          data: { evidenced: c.evidenced, target: c.target, below, cause: c.cause },
        });
      }
    }
  }

  private clock(): ScoringClock {
    return { now: new Date(), intervalSeconds: this.config.attestIntervalSeconds };
  }

  /* ------------------------------------------------------------------ statement of applicability */

  /**
   * Replaces a product's statement of applicability (its manufacturer only; 404 otherwise) after
   * checking every entry against the catalog for the product's component type, then rescores the
   * product's devices. Throws `hardening.invalid-applicability` (400) naming the problems.
   */
  async putApplicability(principal: Principal, productId: string, body: unknown): Promise<{ productId: string; applicability: ApplicabilityStatement[]; devicesRescored: number }> {
    const product = await this.products.getOwned(principal, productId);
    const list = parseApplicabilityBody(body);
    const type = assertComponentType(product.componentType);
    this.scorers.scorer(type).declare([], list); // throws naming every problem
    const normalized = list.map((e) => ({ requirement: e.requirement, applicable: e.applicable, justification: e.justification.trim() }));
    await this.repo.replaceApplicability(product.id, normalized);
    const ids = await this.repo.activeDeviceIdsOfProduct(product.id);
    for (const id of ids) this.rescoreInBackground(id, 'applicability');
    return { productId: product.id, applicability: [...normalized].sort((a, b) => a.requirement.localeCompare(b.requirement)), devicesRescored: ids.length };
  }

  /** A product's statement of applicability (whoever may see the product). */
  async getApplicability(principal: Principal, productId: string): Promise<{ productId: string; applicability: ApplicabilityStatement[] }> {
    const product = await this.products.get(principal, productId);
    const [row] = await this.repo.products([product.id]);
    return { productId: product.id, applicability: row?.applicability ?? [] };
  }

  /* ------------------------------------------------------------------ reads */

  /** The device's score now (latest report, current attestation state), its gaps and history. 404 for another tenant's device. */
  async scoreView(principal: Principal, deviceId: string): Promise<ScoreView> {
    await this.devices.get(principal, deviceId);
    const { subjects: [subject], products } = await this.repo.subjectsWithProducts([deviceId]);
    const product = subject ? products.get(subject.productId) : undefined;
    if (!subject || !product) throw notFound('device.not-found', `no device ${deviceId}`);
    const p = productScoring(this.scorers, product);
    const score = scoreSubject(subject, p, this.clock());
    const [history, findings] = await Promise.all([this.repo.history(deviceId, SCORE_HISTORY_LIMIT), this.lifecycleFindingsOf([subject], new Map([[subject.productId, p.scorer]]))]);
    return toScoreView({
      lifecycleFindings: findings.get(deviceId) ?? [],
      deviceId,
      productId: subject.productId,
      score,
      scorer: p.scorer,
      target: p.target,
      belowTarget: isBelowTarget(score.evidenced, p.target),
      attestation: subject,
      reportedAt: subject.reportedAt,
      history,
    });
  }

  /**
   * Scores devices now (latest reports, current attestation state, observations), in the order
   * given, without writing anything: for zone assessments and exports. Missing ids are skipped.
   * Callers check tenancy first. `products`: rows already read (a batch loop passes one map).
   */
  async scoreMany(deviceIds: readonly string[], products = new Map<string, ProductScoringRow>()): Promise<ScoredDevice[]> {
    return scoreStoredDevices(this.repo, this.scorers, deviceIds, products, this.clock(), (subjects, scorerOf) => this.lifecycleFindingsOf(subjects, scorerOf));
  }

  /** The lifecycle findings of these devices on the release each is attested on (one port call). */
  private async lifecycleFindingsOf(subjects: readonly ScoringSubject[], scorerOf: ReadonlyMap<string, Scorer>): Promise<Map<string, LifecycleFinding[]>> {
    const out = new Map<string, LifecycleFinding[]>();
    if (!this.lifecycle || !subjects.length) return out;
    const attestedVersion = (s: ScoringSubject) => (s.affirmedAt && s.attestedFirmware ? s.attestedFirmware : null);
    const facts = await this.lifecycle.factsFor(subjects.map((s) => ({ deviceId: s.deviceId, productId: s.productId, version: attestedVersion(s) })));
    const now = this.clock().now;
    for (const s of subjects) {
      const scorer = scorerOf.get(s.productId);
      if (!scorer) continue;
      out.set(s.deviceId, lifecycleFindings(facts.get(s.deviceId), { componentType: scorer.componentType, version: attestedVersion(s), requirementIds: requirementIdsOf(scorer), now }));
    }
    return out;
  }

  /** The catalog in use; with a component type, also the items that type is scored on. */
  catalogView(componentType?: string): CatalogView {
    this.catalog ??= toCatalogView(this.scorers.catalog, this.scorers.rules);
    if (componentType === undefined) return this.catalog;
    return withApplicable(this.catalog, this.scorers.catalog, assertComponentType(componentType));
  }
}

const requirementIds = new WeakMap<Scorer, ReadonlySet<string>>();
function requirementIdsOf(scorer: Scorer): ReadonlySet<string> {
  let ids = requirementIds.get(scorer);
  if (!ids) requirementIds.set(scorer, (ids = new Set(scorer.items.map((i) => i.id))));
  return ids;
}
