import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyEntity } from './entities/api-key.entity';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { OrganizationEntity } from './entities/organization.entity';
import { ApiKeyGuard } from './nest/api-key.guard';
import { AuditInterceptor } from './nest/audit.interceptor';
import { AuditService } from './nest/audit.service';
import { AuthController } from './nest/auth.controller';
import { AuthService } from './nest/auth.service';

/** Tenants, API keys, roles and the audit log. Exports the services other modules need (audit, org lookup). */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([OrganizationEntity, ApiKeyEntity, AuditEntryEntity])],
  controllers: [AuthController],
  providers: [
    AuthService,
    AuditService,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [AuthService, AuditService],
})
export class AuthModule {}
