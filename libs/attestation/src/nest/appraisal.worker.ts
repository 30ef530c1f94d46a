import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AppConfig, DomainError, isDomainError, GroupedCall, MAX_GROUP } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter, gauge, histogram } from '@fleetguard/platform';
import { isEmbedded } from '@fleetguard/persistence/nest';
import { BrokerService } from '@fleetguard/broker/nest';
import { FleetEventBus } from '@fleetguard/events';
import { appraiseEvidence, AppraisalResult } from '../core/appraisal.pipeline';
import { retryDelayMs } from '../core/appraisal-retry';
import { EarForm, reformEar, signEar } from '../core/ear.builder';
import { AppraisalPortsFactory, EarlyLook } from './appraisal.ports';
import { CommitOutcome, CommitRefused, EvidenceInboxRepository, InboxJob, ResultRecord, StoredResult } from './evidence-inbox.repository';
import { VerifierKeyService } from './verifier-key.service';
import { evidenceRefused as refused } from './attestation.metrics';
import { MeasuredBootStore } from './measured-boot.store';
import { PsaService } from './psa.service';
import { PsaAppraisalResult } from '../core/psa-token.appraisal';
import { psaTokenOf } from '../core/psa-token.parser';
import { JwsCryptoService } from './jws-crypto.service';

const appraisals = counter('fleetguard_attestations_total', 'Evidence appraised, by resulting status', ['status', 'channel']);
const retries = counter('fleetguard_appraisal_retries_total', 'Appraisals given back for a later attempt, by reason', ['reason']);
const latency = histogram('fleetguard_appraisal_seconds', 'Time from evidence received to stored result', ['channel'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
const queueDepth = gauge('fleetguard_appraisal_queue_depth', 'Evidence claimed by this process and waiting for appraisal');
const backlogGauge = gauge('fleetguard_attestation_inbox_backlog', 'Evidence recorded and not yet appraised (all instances)');

const purged = counter('fleetguard_attestation_inbox_purged_total', 'Appraised inbox rows removed after the retention (FLEETGUARD_INBOX_RETENTION_HOURS)');
const PURGE_EVERY_MS = 60_000;
const PURGE_CHUNK = 5000;
const PURGE_MAX_ROWS = 500_000;
/**
 * Grouped commits that may run at once. One after the other, a result that became ready while a
 * commit ran waited for it to finish and then for its own: at 1,000/s offered in bench:attest
 * (2026-12-04, 7 runs against 5, alternated) the p99 was 68-146 ms (median 93) with two against
 * 83-176 ms (median 142) with one, throughput and CPU per appraisal the same. The groups hold
 * disjoint devices and nonces (the keys), so their transactions lock disjoint rows. More than two
 * was not measured; the nonce and inbox inserts with two each made the median worse (30 against
 * 21-23 ms) and stay one after the other.
 */
const COMMITS_IN_FLIGHT = 2;

const VERIFIER_ID = { build: 'fleetguard-0.1.0', developer: 'https://fleetguard.dev' };

export type AppraisalOutcome = { kind: 'result'; result: StoredResult } | { kind: 'refused'; error: DomainError } | { kind: 'dropped' };

/**
 * Appraises inbox rows exactly once. This process claims rows with a lease (the evidence it
 * records itself, and — polling — rows nobody holds: left by a crash, by a database error, or by
 * another instance whose lease ran out); a bounded local queue feeds a fixed number of
 * concurrent appraisals. A commit is one transaction guarded by the lease, so a row taken over
 * by another claimant is committed by one of them only. After a database error this process
 * tries the row again with exponential backoff (retryDelayMs) while it holds it; if it dies,
 * the lease runs out and another claimant takes the row (not before its next attempt time).
 */
@Injectable()
export class AppraisalWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Appraisal');
  /** This process as a claimant (a restart is a new claimant). */
  readonly claimant = `fg-${randomUUID()}`;
  private readonly queue: InboxJob[] = [];
  private active = 0;
  /** Rows this process holds and retries after a backoff (counted against the queue bound). */
  private waiting = 0;
  /** Places taken by evidence being recorded now (admission is strict: counted before the insert). */
  private reserved = 0;
  /** Evidence waiting for a place, first come first served. */
  private readonly roomWaiters: Array<{ resolve(ok: boolean): void; timer: NodeJS.Timeout }> = [];
  private closing = false;
  private polling = false;
  /**
   * Appraisals that are ready commit together: one statement per group (commitMany: one row per
   * device and per nonce among the groups in flight). Two groups may run at once (COMMITS_IN_FLIGHT).
   */
  private readonly commits = new GroupedCall<{ job: InboxJob; r: ResultRecord }, CommitOutcome>(
    (items) => this.inbox.commitMany(this.claimant, items),
    ({ job, r }) => [`d:${job.deviceId}`, r.nonce === null ? null : `n:${job.deviceId}:${r.nonce}`],
    MAX_GROUP,
    COMMITS_IN_FLIGHT,
  );
  private pollTimer?: NodeJS.Timeout;
  private backlogTimer?: NodeJS.Timeout;
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly inbox: EvidenceInboxRepository,
    private readonly ports: AppraisalPortsFactory,
    private readonly verifier: VerifierKeyService,
    private readonly broker: BrokerService,
    private readonly events: FleetEventBus,
    private readonly psa: PsaService,
    private readonly measuredBoot: MeasuredBootStore,
    private readonly crypto: JwsCryptoService,
  ) {}

  get leaseSeconds(): number {
    return this.config.appraisalLeaseSeconds;
  }

  /** Room for one more piece of evidence (admission control: checked before it is recorded). */
  hasRoom(): boolean {
    return !this.closing && this.depth < this.config.appraisalQueueMax;
  }

  get depth(): number {
    return this.queue.length + this.active + this.waiting + this.reserved;
  }

  /**
   * Takes a place in the queue for evidence about to be recorded (false when full). The place is
   * the evidence's from then on: enqueue(job, true) or runNow(job, true) turns it into the job,
   * releaseReservation() gives it back (a duplicate, a failed insert). Taken before the insert,
   * so evidence recorded together in one statement can never overshoot the bound.
   */
  tryReserve(): boolean {
    if (this.closing || this.depth >= this.config.appraisalQueueMax) return false;
    this.reserved++;
    return true;
  }

  /**
   * tryReserve(), or waiting up to `waitMs` for a place. A device sending many messages in one
   * go (they arrive in one read) gets the places as they free up; the messages admitted are
   * recorded and acknowledged before the wait of the others runs out, so a device always makes
   * progress even when the broker closes its connection over one that found no place.
   */
  reserve(waitMs: number): Promise<boolean> {
    if (this.tryReserve()) return Promise.resolve(true);
    if (waitMs <= 0 || this.closing) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          const i = this.roomWaiters.indexOf(waiter);
          if (i >= 0) this.roomWaiters.splice(i, 1);
          resolve(false);
        }, waitMs),
      };
      waiter.timer.unref();
      this.roomWaiters.push(waiter);
    });
  }

  releaseReservation(): void {
    this.reserved--;
    queueDepth.set(this.depth);
    this.wakeWaiters();
  }

  /** Places freed: given to the evidence that waits longest. */
  private wakeWaiters(): void {
    while (this.roomWaiters.length && !this.closing && this.depth < this.config.appraisalQueueMax) {
      const w = this.roomWaiters.shift()!;
      clearTimeout(w.timer);
      this.reserved++;
      w.resolve(true);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (isEmbedded(this.config)) {
      const freed = await this.inbox.releaseAllLeases();
      if (freed) this.logger.log(`freed ${freed} appraisal lease(s) left by the previous run`);
    }
    this.pollTimer = setInterval(() => void this.poll(), 1000);
    this.pollTimer.unref();
    this.backlogTimer = setInterval(() => void this.inbox.backlog().then((n) => backlogGauge.set(n), () => undefined), 5000);
    this.backlogTimer.unref();
    this.purgeTimer = setInterval(() => void this.purge().catch((e) => this.logger.warn(`removing old inbox rows failed: ${(e as Error).message}`)), PURGE_EVERY_MS);
    this.purgeTimer.unref();
    void this.poll();
  }

  /**
   * Removes appraised inbox rows older than the retention, in chunks, up to PURGE_MAX_ROWS a
   * sweep (a minute's worth at several thousand appraisals a second). Every instance may run it:
   * the chunks skip each other's locked rows.
   */
  async purge(now = Date.now()): Promise<number> {
    const before = new Date(now - this.config.inboxRetentionHours * 3600_000);
    let removed = 0;
    while (!this.closing && removed < PURGE_MAX_ROWS) {
      const n = await this.inbox.purgeProcessed(before, PURGE_CHUNK);
      removed += n;
      if (n < PURGE_CHUNK) break;
    }
    if (removed) purged.inc(removed);
    return removed;
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    for (const w of this.roomWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    clearInterval(this.pollTimer);
    clearInterval(this.backlogTimer);
    clearInterval(this.purgeTimer);
    const deadline = Date.now() + 5000;
    while (this.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * EAT evidence just admitted: its device and signature are looked up while its row is being
   * recorded (given to enqueue()/runNow() with the job). Null for PSA tokens (their own
   * appraisal), and when the queue is longer than the appraisals running at once: that job would
   * not start within the look's 2 s, and the look would be done twice.
   */
  lookEarly(deviceId: string, evidence: string): EarlyLook | null {
    if (this.queue.length + this.active >= this.config.appraisalConcurrency) return null;
    return psaTokenOf(evidence) ? null : this.ports.lookEarly(deviceId, evidence);
  }

  /** Queues a row this process holds (recorded by it, or claimed); `reserved`: it takes the place tryReserve() gave; `early`: what lookEarly() started for it. */
  enqueue(job: InboxJob, reserved = false, early?: EarlyLook | null): void {
    if (early) this.ports.attach(job, early);
    if (reserved) this.reserved--;
    this.queue.push(job);
    queueDepth.set(this.depth);
    this.drain();
  }

  /** Claims rows nobody holds while the local queue has room. */
  async poll(): Promise<number> {
    if (this.polling || this.closing) return 0;
    this.polling = true;
    try {
      const room = Math.min(500, Math.floor(this.config.appraisalQueueMax / 2) - this.depth);
      if (room <= 0) return 0;
      const jobs = await this.inbox.claim(this.claimant, room, this.leaseSeconds);
      if (jobs.length) this.logger.log(`claimed ${jobs.length} evidence message(s) waiting for appraisal`);
      for (const j of jobs) this.enqueue(j);
      return jobs.length;
    } catch (e) {
      this.logger.warn(`claiming waiting evidence failed: ${(e as Error).message}`);
      return 0;
    } finally {
      this.polling = false;
    }
  }

  private drain(): void {
    while (!this.closing && this.active < this.config.appraisalConcurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.active++;
      void this.process(job)
        .then(async (o) => {
          if (job.channel !== 'mqtt') return;
          if (o.kind === 'result') await this.broker.publishToDevice(job.deviceId, 'result', { ear: o.result.ear });
          if (o.kind === 'refused') await this.broker.publishToDevice(job.deviceId, 'result', { error: { code: o.error.code, message: o.error.message, topic: 'evidence' } });
        })
        .catch((e) => this.logger.warn(`telling ${job.deviceId} its result failed: ${(e as Error).message}`))
        .finally(() => {
          this.active--;
          queueDepth.set(this.depth);
          this.drain();
          this.wakeWaiters();
        });
    }
  }

  /** Appraises a row now, outside the queue (HTTP answers synchronously), counted against the bound. */
  async runNow(job: InboxJob, reserved = false, early?: EarlyLook | null): Promise<AppraisalOutcome> {
    if (early) this.ports.attach(job, early);
    if (reserved) this.reserved--;
    this.active++;
    queueDepth.set(this.depth);
    try {
      return await this.process(job);
    } finally {
      this.active--;
      queueDepth.set(this.depth);
      this.drain();
      this.wakeWaiters();
    }
  }

  /**
   * One attempt at one row: appraise, sign, commit. `dropped` when the row is no longer ours
   * (taken over, or committed already) or was given back after a database error.
   */
  async process(job: InboxJob): Promise<AppraisalOutcome> {
    try {
      // A nonce taken by another inbox row between the look and the commit: appraise again
      // (the look now sees it used). Twice at most; a third race is not plausible.
      for (let round = 0; ; round++) {
        let result: AppraisalResult | PsaAppraisalResult;
        try {
          const psaToken = psaTokenOf(job.evidence);
          result = psaToken
            ? await this.psa.appraise(job.deviceId, psaToken, (id, nonce) => this.ports.nonceStateAt(id, nonce, job.receivedAt))
            : await appraiseEvidence({ deviceId: job.deviceId, evidence: job.evidence, now: job.receivedAt }, this.ports.forJob(job));
        } catch (e) {
          if (!isDomainError(e)) throw e;
          // Evidence we cannot read even after its signature: processed, refused, told to the device.
          await this.inbox.commitRefusal(job, this.claimant);
          refused.inc({ code: e.code, channel: job.channel });
          this.logger.warn(`evidence from ${job.deviceId} refused: ${e.code}: ${e.message}`);
          return { kind: 'refused', error: e };
        }
        try {
          return { kind: 'result', result: await this.store(job, result) };
        } catch (e) {
          if (e instanceof CommitRefused && e.reason === 'nonce-taken') {
            // Used elsewhere: this instance's memory of it must not answer for it again.
            if (result.nonce) this.ports.nonceUsed(result.nonce);
            if (round < 2) continue;
          }
          throw e;
        }
      }
    } catch (e) {
      if (e instanceof CommitRefused) {
        retries.inc({ reason: e.reason });
        this.logger.warn(`appraisal of ${job.inboxId} not committed: ${e.reason}`);
        return { kind: 'dropped' };
      }
      const delay = retryDelayMs(job.attempts, { baseMs: 500, maxMs: 30_000 });
      retries.inc({ reason: 'error' });
      this.logger.error(`appraisal of ${job.inboxId} from ${job.deviceId} failed (attempt ${job.attempts}), retrying in ${(delay / 1000).toFixed(1)} s: ${(e as Error).message}`);
      // Noted on the row when the database lets us (another instance takes it over once our
      // lease runs out, if we die); retried here meanwhile, still holding it.
      await this.inbox.noteFailure(job.inboxId, this.claimant, delay, (e as Error).message).catch(() => undefined);
      if (job.channel === 'http') throw e;
      this.retryLater({ ...job, attempts: job.attempts + 1 }, delay);
      return { kind: 'dropped' };
    }
  }

  private retryLater(job: InboxJob, delayMs: number): void {
    this.waiting++;
    const t = setTimeout(() => {
      this.waiting--;
      if (!this.closing) this.enqueue(job);
    }, delayMs);
    t.unref();
  }

  private async commitGrouped(job: InboxJob, r: ResultRecord): Promise<{ audience: Array<string | null> | null; current: boolean }> {
    const o = await this.commits.call({ job, r });
    if (o.kind === 'refused') throw new CommitRefused(o.reason);
    return o;
  }

  /** A stored EAR in the asked form (signed again, same appraisal and iat, when the form differs from the configured one). */
  inForm(ear: string, form: EarForm | undefined): Promise<string> {
    if (!form || form === this.config.earForm) return Promise.resolve(ear);
    return reformEar(ear, form, { verifierKey: this.verifier.verifierKey, verifierId: VERIFIER_ID, crypto: this.crypto });
  }

  private async store(job: InboxJob, result: AppraisalResult | PsaAppraisalResult): Promise<StoredResult> {
    // The attester's RFC 9711 identity, when the evidence gave one the appraisal matched, rides in the EAR.
    const identity = result.claims && 'identity' in result.claims ? result.claims.identity : undefined;
    const attester = identity?.form === 'rfc9711-ueid' || identity?.sueids ? { attester: { ueid: identity.ueid, sueids: identity.sueids } } : {};
    const ear = await signEar(result, { verifierKey: this.verifier.verifierKey, verifierId: VERIFIER_ID, nonce: result.nonce, deviceId: job.deviceId, form: this.config.earForm, crypto: this.crypto, ...attester });
    const imaState = 'imaState' in result ? result.imaState : null;
    const id = randomUUID();
    const affirming = result.status === 'affirming';
    const record = {
      id,
      status: result.status,
      trustVector: result.trustVector,
      reasons: result.reasons,
      findings: result.findings,
      firmwareVersion: result.firmware?.version ?? (result.claims && 'fw' in result.claims ? result.claims.fw.version : null),
      securityCounter: result.firmware?.securityCounter ?? null,
      claims: result.claims,
      ear,
      nonce: result.nonce,
      affirming,
      firmware: affirming ? result.firmware : null,
      // Linux: the running IMA state moves forward with the result, in its transaction.
      alsoWrite: imaState ? (m: EntityManager) => this.measuredBoot.saveImaState(job.deviceId, imaState, m) : undefined,
    };
    // With more state to write in its transaction (IMA) an appraisal commits alone; the rest in batches.
    const committed = record.alsoWrite ? await this.inbox.commit(job, this.claimant, record) : await this.commitGrouped(job, record);
    if (record.nonce) this.ports.nonceUsed(record.nonce);
    appraisals.inc({ status: result.status, channel: job.channel });
    latency.observe({ channel: job.channel }, (Date.now() - job.receivedAt.getTime()) / 1000);
    if (committed.audience && committed.current) {
      const data = { status: result.status, reasons: result.reasons, resultId: id, at: new Date().toISOString() };
      this.events.publish('attestation.result', { deviceId: job.deviceId, audience: committed.audience, data });
      if (result.status === 'contraindicated' || result.status === 'warning') this.events.publish('attestation.failed', { deviceId: job.deviceId, audience: committed.audience, data });
    } else if (committed.audience) {
      this.logger.log(`result ${id} for ${job.deviceId} is stored but not current: later evidence was appraised first`);
    }
    return { id, status: result.status, ear, reasons: result.reasons };
  }
}
