import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FleetModule } from '@fleetguard/fleet';
import { FirmwareModule } from '@fleetguard/firmware';
import { AttestationResultEntity } from './entities/attestation-result.entity';
import { AttestationService } from './nest/attestation.service';
import { AttestedReleaseReader } from './nest/attested-release.reader';
import { DeviceAttestationController, DeviceAttestationsController, VerifierKeyController } from './nest/attestation.controller';
import { NonceStore } from './nest/nonce.store';
import { VerifierKeyService } from './nest/verifier-key.service';

/** Challenges, evidence, appraisal and EAR results, over MQTT (the global broker) and the device HTTP API. */
@Module({
  imports: [TypeOrmModule.forFeature([AttestationResultEntity]), FleetModule, FirmwareModule],
  controllers: [DeviceAttestationController, VerifierKeyController, DeviceAttestationsController],
  providers: [AttestationService, NonceStore, VerifierKeyService, AttestedReleaseReader],
  exports: [AttestationService, AttestedReleaseReader],
})
export class AttestationModule {}
