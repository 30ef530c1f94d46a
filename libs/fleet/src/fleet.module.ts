import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeviceEntity } from './entities/device.entity';
import { EnrollmentTokenEntity } from './entities/enrollment-token.entity';
import { ProductEntity } from './entities/product.entity';
import { WebhookEntity } from './entities/webhook.entity';
import { DevicesController } from './nest/devices.controller';
import { DevicesService } from './nest/devices.service';
import { EnrollmentController, EnrollmentGrantsController, EnrollmentTokensController, EstController } from './nest/enrollment.controller';
import { EnrollmentGrantsService } from './nest/enrollment-grants.service';
import { EnrollmentService } from './nest/enrollment.service';
import { FleetController } from './nest/fleet.controller';
import { FleetQueryService } from './nest/fleet-query.service';
import { ProductsController } from './nest/products.controller';
import { ProductsService } from './nest/products.service';
import { WebhooksController } from './nest/webhooks.controller';
import { WebhooksService } from './nest/webhooks.service';

/** Products, devices and their enrollment, the fleet view (list, summary, report) and webhook subscriptions. Uses the global PKI and auth modules. */
@Module({
  imports: [TypeOrmModule.forFeature([ProductEntity, DeviceEntity, EnrollmentTokenEntity, WebhookEntity])],
  controllers: [ProductsController, EnrollmentTokensController, EnrollmentGrantsController, EnrollmentController, EstController, DevicesController, FleetController, WebhooksController],
  providers: [ProductsService, EnrollmentService, EnrollmentGrantsService, DevicesService, FleetQueryService, WebhooksService],
  exports: [ProductsService, DevicesService, EnrollmentService, FleetQueryService, WebhooksService],
})
export class FleetModule {}
