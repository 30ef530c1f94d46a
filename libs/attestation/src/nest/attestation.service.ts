import { Injectable } from '@nestjs/common';
import { conflict } from '@fleetguard/common';
import { BrokerService, MqttInbound, type InboundOutcome } from '@fleetguard/broker/nest';
import { ChallengeScheduler } from './challenge.scheduler';
import { EvidenceInbox } from './evidence-inbox.service';
import { AppraisalWorker } from './appraisal.worker';
import { EvidenceInboxRepository } from './evidence-inbox.repository';
import type { EarForm } from '../core/ear.builder';

export type { StoredResult } from './evidence-inbox.repository';

/**
 * Remote attestation (RFC 9334 roles: device = attester, this service = verifier), the facade
 * the controllers and other modules use. The work is in three parts: ChallengeScheduler (nonces
 * out, re-challenge, staleness), EvidenceInbox (evidence in: rate, admission, durable record)
 * and AppraisalWorker (claimed with a lease, appraised, committed once, answered).
 */
@Injectable()
export class AttestationService {
  constructor(
    private readonly broker: BrokerService,
    private readonly challenges: ChallengeScheduler,
    private readonly inbox: EvidenceInbox,
    private readonly worker: AppraisalWorker,
    private readonly results: EvidenceInboxRepository,
  ) {}

  /** MQTT evidence (`fleet/v1/devices/<id>/evidence`): the challenge is answered; the result goes out on the device's result topic. */
  @MqttInbound('evidence')
  receiveMqttEvidence(deviceId: string, payload: Buffer): Promise<InboundOutcome> {
    this.challenges.noteAnswered(deviceId);
    return this.inbox.receiveMqtt(deviceId, payload, (ear) => void this.broker.publishToDevice(deviceId, 'result', { ear }).catch(() => undefined));
  }

  challenge(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    return this.challenges.challenge(deviceId);
  }

  challengeOverMqtt(deviceId: string): Promise<{ nonce: string; expiresAt: Date }> {
    return this.challenges.challengeOverMqtt(deviceId);
  }

  /** Operator-triggered attestation: the device must be connected to the broker (of any instance; the challenge reaches it through Redis). */
  async attestNow(deviceId: string): Promise<{ deviceId: string; nonce: string; expiresAt: Date; channel: 'mqtt' }> {
    if (!(await this.broker.isConnectedAnywhere(deviceId))) throw conflict('attestation.not-connected', `device ${deviceId} is not connected to the broker; it will be challenged when it connects`);
    const c = await this.challenges.challengeOverMqtt(deviceId);
    return { deviceId, nonce: c.nonce, expiresAt: c.expiresAt, channel: 'mqtt' };
  }

  /**
   * HTTP evidence: exactly one of `evidence` (EAT, compact JWS) or `psaToken` (base64url PSA
   * token). `form` (from the request's `Accept`) picks the EAR's form for this answer; the
   * stored EAR keeps the configured form.
   */
  receiveHttpEvidence(deviceId: string, evidence: unknown, psaToken?: unknown, form?: EarForm): Promise<{ ear: string; status: string; reasons: string[] }> {
    return this.inbox.receiveHttp(deviceId, evidence, psaToken, form);
  }

  /** One stored result's EAR, for `GET /api/v1/devices/:id/attestations/:resultId/ear` (the caller checked access to the device). */
  async storedEar(deviceId: string, resultId: string, form: EarForm | undefined): Promise<string | null> {
    const ear = await this.results.storedEar(deviceId, resultId);
    return ear === null ? null : this.worker.inForm(ear, form);
  }
}
