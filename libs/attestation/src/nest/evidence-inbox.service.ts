import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { AppConfig, DomainError, KeyedRateLimiter, conflict, isDomainError, rateLimited, unavailable } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform/nest';
import { counter } from '@fleetguard/platform';
import type { InboundOutcome } from '@fleetguard/broker/nest';
import { assertCompactJws } from '../core/eat-evidence.parser';
import { assertPsaTokenText } from '../core/psa-token.parser';
import type { EarForm } from '../core/ear.builder';
import { AppraisalWorker } from './appraisal.worker';
import { EvidenceInboxRepository } from './evidence-inbox.repository';
import { deviceRateLimited as limited, evidenceRefused as refused } from './attestation.metrics';
import { GroupedCall } from '@fleetguard/common';

type RecordItem = { deviceId: string; hash: string; id: string; evidence: string; channel: 'mqtt' | 'http' };

const shed = counter('fleetguard_evidence_shed_total', 'Evidence not taken because the appraisal queue was full (MQTT: not acknowledged; HTTP: 503)', ['channel']);

/**
 * Where evidence comes in (MQTT and HTTP): checked for shape, held to a per-device rate, let in
 * only while the appraisal queue has room, recorded durably (claimed by this process) before it
 * is acknowledged, then handed to the worker.
 */
@Injectable()
export class EvidenceInbox {
  private readonly rate: KeyedRateLimiter;
  /** A burst's evidence is recorded in one INSERT (each hash once per statement). */
  private readonly records = new GroupedCall<RecordItem, { inboxId: string; duplicate: boolean; receivedAt: Date }>(
    (items) => this.repo.recordMany(this.worker.claimant, this.worker.leaseSeconds, items),
    (x) => [x.hash],
  );

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repo: EvidenceInboxRepository,
    private readonly worker: AppraisalWorker,
  ) {
    this.rate = new KeyedRateLimiter(config.deviceRatePerMinute, config.deviceRatePerMinute * 2);
    this.admissionWaitMs = config.appraisalAdmissionWaitMs;
  }

  /** How long MQTT evidence waits for a place in a full queue before it is shed. */
  private readonly admissionWaitMs: number;

  /**
   * MQTT: recorded before the broker sends PUBACK; appraised asynchronously and answered on the
   * device's result topic. A duplicate (QoS 1 redelivery) is acknowledged, not appraised twice.
   * Queue full: it waits up to FLEETGUARD_APPRAISAL_ADMISSION_WAIT_MS for a place, then `busy`
   * (no PUBACK; MQTT 3.1.1 has no negative acknowledgement, so the broker closes the connection
   * and the device sends it again after reconnecting).
   */
  async receiveMqtt(deviceId: string, payload: Buffer, republish: (ear: string) => void): Promise<InboundOutcome> {
    let evidence: unknown;
    try {
      const body = JSON.parse(payload.toString('utf8')) as { evidence?: unknown; psaToken?: unknown } | null;
      // `{psaToken}`: a PSA attestation token (RFC 9783), kept as its base64url text (no dots, so never mistaken for a JWS).
      if (body && typeof body === 'object' && body.psaToken !== undefined && body.evidence === undefined) evidence = assertPsaTokenText(body.psaToken);
      else {
        evidence = body?.evidence;
        assertCompactJws(evidence);
      }
    } catch (e) {
      const code = isDomainError(e) ? e.code : 'bad-json';
      refused.inc({ code, channel: 'mqtt' });
      return { ack: false, code, message: isDomainError(e) ? e.message : 'the payload must be JSON {"evidence": "<compact JWS>"}' };
    }
    if (!this.rate.take(deviceId)) {
      limited.inc({ kind: 'evidence', channel: 'mqtt' });
      return { ack: false, code: 'rate-limited', message: `more than ${this.rate.ratePerMinute} evidence messages a minute; try again in ${this.rate.retryAfterSeconds(deviceId)} s` };
    }
    if (!(await this.worker.reserve(this.admissionWaitMs))) {
      shed.inc({ channel: 'mqtt' });
      return { ack: false, busy: true, code: 'overloaded', message: 'the appraisal queue is full' };
    }
    // The device and the signature are looked up while the row is inserted (a duplicate's look is dropped).
    const early = this.worker.lookEarly(deviceId, evidence as string);
    const stored = await this.recordReserved(deviceId, evidence as string, 'mqtt');
    if (stored.duplicate) {
      const prior = await this.repo.resultForInbox(stored.inboxId);
      if (prior) republish(prior.ear);
      return { ack: true };
    }
    this.worker.enqueue(stored.job, true, early);
    return { ack: true };
  }

  /**
   * HTTP: the same pipeline, answered synchronously with the EAR, in `form` when given (the
   * request's `Accept`, negotiated before this call so that a 406 spends nothing).
   */
  async receiveHttp(deviceId: string, evidence: unknown, psaToken?: unknown, form?: EarForm): Promise<{ ear: string; status: string; reasons: string[] }> {
    try {
      if ((evidence === undefined) === (psaToken === undefined)) throw new DomainError('evidence-missing', 'send exactly one of evidence (EAT, compact JWS) or psaToken (base64url PSA token)', 'invalid');
      if (psaToken !== undefined) evidence = assertPsaTokenText(psaToken);
      else assertCompactJws(evidence);
    } catch (e) {
      refused.inc({ code: isDomainError(e) ? e.code : 'invalid', channel: 'http' });
      throw e;
    }
    if (!this.rate.take(deviceId)) {
      limited.inc({ kind: 'evidence', channel: 'http' });
      throw rateLimited('evidence.rate-limited', `more than ${this.rate.ratePerMinute} evidence messages a minute`, this.rate.retryAfterSeconds(deviceId));
    }
    if (!this.worker.tryReserve()) {
      shed.inc({ channel: 'http' });
      throw unavailable('evidence.overloaded', 'the appraisal queue is full; send the evidence again later', 5);
    }
    const early = this.worker.lookEarly(deviceId, evidence as string);
    const stored = await this.recordReserved(deviceId, evidence as string, 'http');
    if (stored.duplicate) {
      const prior = await this.repo.resultForInbox(stored.inboxId);
      if (prior) return { ear: await this.worker.inForm(prior.ear, form), status: prior.status, reasons: prior.reasons };
      throw conflict('evidence.in-progress', 'this evidence is being appraised already');
    }
    let outcome;
    try {
      outcome = await this.worker.runNow(stored.job, true, early);
    } catch (e) {
      // Given back for a retry (database error): the device sends the same evidence again and
      // gets the result the retry stored.
      throw unavailable('evidence.retry-later', `the evidence is recorded but could not be appraised now: ${(e as Error).message}`, 5);
    }
    if (outcome.kind === 'refused') throw outcome.error;
    if (outcome.kind === 'dropped') throw unavailable('evidence.retry-later', 'the evidence is recorded; its result is not ready yet', 2);
    return { ear: await this.worker.inForm(outcome.result.ear, form), status: outcome.result.status, reasons: outcome.result.reasons };
  }

  /**
   * record() for evidence holding a place in the queue: the place is given back when nothing new
   * was recorded (a duplicate, a failed insert); otherwise the caller turns it into the job.
   */
  private async recordReserved(deviceId: string, evidence: string, channel: 'mqtt' | 'http') {
    let stored;
    try {
      stored = await this.record(deviceId, evidence, channel);
    } catch (e) {
      this.worker.releaseReservation();
      throw e;
    }
    if (stored.duplicate) this.worker.releaseReservation();
    return stored;
  }

  private async record(deviceId: string, evidence: string, channel: 'mqtt' | 'http') {
    const hash = createHash('sha256').update(evidence).digest('hex');
    const s = await this.records.call({ deviceId, hash, id: randomUUID(), evidence, channel });
    return { ...s, job: { inboxId: s.inboxId, deviceId, evidence, channel, receivedAt: s.receivedAt, attempts: 1 } };
  }
}
