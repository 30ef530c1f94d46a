import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FleetModule } from '@fleetguard/fleet/nest';
import { FirmwareModule } from '@fleetguard/firmware/nest';
import { AttestationResultEntity } from './entities/attestation-result.entity';
import { AttestationService } from './nest/attestation.service';
import { AttestedReleaseReader } from './nest/attested-release.reader';
import { DeviceAttestationController, DeviceAttestationsController, VerifierKeyController } from './nest/attestation.controller';
import { MeasuredBootController } from './nest/measured-boot.controller';
import { MeasuredBootStore } from './nest/measured-boot.store';
import { NonceStore } from './nest/nonce.store';
import { AppraisalPortsFactory } from './nest/appraisal.ports';
import { AppraisalWorker } from './nest/appraisal.worker';
import { ChallengeScheduler } from './nest/challenge.scheduler';
import { EvidenceInbox } from './nest/evidence-inbox.service';
import { EvidenceInboxRepository } from './nest/evidence-inbox.repository';
import { VerifierKeyService } from './nest/verifier-key.service';
import { PsaService } from './nest/psa.service';
import { CorimController } from './nest/corim.controller';
import { JwsCryptoService } from './nest/jws-crypto.service';

/** Challenges, evidence, appraisal and EAR results, over MQTT (the global broker) and the device HTTP API. */
@Module({
  imports: [TypeOrmModule.forFeature([AttestationResultEntity]), FleetModule, FirmwareModule],
  controllers: [DeviceAttestationController, VerifierKeyController, DeviceAttestationsController, MeasuredBootController, CorimController],
  providers: [
    AttestationService,
    NonceStore,
    VerifierKeyService,
    MeasuredBootStore,
    PsaService,
    AttestedReleaseReader,
    EvidenceInboxRepository,
    AppraisalPortsFactory,
    AppraisalWorker,
    EvidenceInbox,
    ChallengeScheduler,
    JwsCryptoService,
  ],
  exports: [AttestationService, AttestedReleaseReader],
})
export class AttestationModule {}
