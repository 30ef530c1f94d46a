import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CertificateEntity } from './entities/certificate.entity';
import { CaService } from './nest/ca.service';
import { CertificateStatusService } from './nest/certificate-status.service';
import { CrlService } from './nest/crl.service';
import { OcspService } from './nest/ocsp.service';
import { CsrCheckService } from './nest/csr-check.service';
import { PkiController } from './nest/pki.controller';
import { DeviceCertificateGuard } from './nest/device-certificate.guard';
import { CertificateRepository } from './nest/certificate.repository';
import { DeviceCertificateAuthenticator } from './nest/device-certificate.authenticator';
import { DeviceCertificatesService } from './nest/device-certificates.service';

/** The device CA, the CRL and the certificate status that device-facing listeners consult. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([CertificateEntity])],
  controllers: [PkiController],
  providers: [CaService, CrlService, CertificateStatusService, CertificateRepository, DeviceCertificatesService, DeviceCertificateAuthenticator, DeviceCertificateGuard, OcspService, CsrCheckService],
  exports: [CaService, CrlService, CertificateStatusService, DeviceCertificatesService, DeviceCertificateAuthenticator, DeviceCertificateGuard, CsrCheckService],
})
export class PkiModule {}
