import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeviceEntity } from './entities/device.entity';
import { EnrollmentTokenEntity } from './entities/enrollment-token.entity';
import { ProductEntity } from './entities/product.entity';
import { DevicesController } from './nest/devices.controller';
import { DevicesService } from './nest/devices.service';
import { DeviceDirectoryReader } from './nest/device-directory.reader';
import { EnrollmentController, EnrollmentGrantsController, EnrollmentTokensController, EstController } from './nest/enrollment.controller';
import { EnrollmentGrantsService } from './nest/enrollment-grants.service';
import { EnrollmentService } from './nest/enrollment.service';
import { FleetController } from './nest/fleet.controller';
import { FleetQueryService } from './nest/fleet-query.service';
import { PkiAdminController } from './nest/pki-admin.controller';
import { PkiAdminService } from './nest/pki-admin.service';
import { ProductsController } from './nest/products.controller';
import { ProductsService } from './nest/products.service';

/** Products, devices and their enrollment, the fleet view (list, summary, report). Webhook subscriptions are the events module's. Uses the global PKI and auth modules. */
@Module({
  imports: [TypeOrmModule.forFeature([ProductEntity, DeviceEntity, EnrollmentTokenEntity])],
  controllers: [ProductsController, EnrollmentTokensController, EnrollmentGrantsController, EnrollmentController, EstController, DevicesController, FleetController, PkiAdminController],
  providers: [ProductsService, EnrollmentService, EnrollmentGrantsService, DevicesService, DeviceDirectoryReader, FleetQueryService, PkiAdminService],
  exports: [ProductsService, DevicesService, DeviceDirectoryReader, EnrollmentService, FleetQueryService],
})
export class FleetModule {}
