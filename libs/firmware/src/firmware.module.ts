import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FleetModule } from '@fleetguard/fleet/nest';
import { FirmwareReleaseEntity } from './entities/firmware-release.entity';
import { SigningKeyEntity } from './entities/signing-key.entity';
import { FirmwareController } from './nest/firmware.controller';
import { FirmwareService } from './nest/firmware.service';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity, FirmwareReleaseEntity]), FleetModule],
  controllers: [FirmwareController],
  providers: [FirmwareService],
  exports: [FirmwareService],
})
export class FirmwareModule {}
