// @fleetguard/pki/nest: the CA of this service, the CRL and the certificate status cache.
export { CertificateEntity } from '../entities/certificate.entity';
export type { CertificateStatus } from '../entities/certificate.entity';
export { CaService } from './ca.service';
export type { IssuedDeviceCertificate, IssuingCaGeneration } from './ca.service';
export type { ServerTls } from './ca.service';
export { CrlService } from './crl.service';
export { CsrCheckService } from './csr-check.service';
export { CertificateStatusService } from './certificate-status.service';
export { CertificateRepository, issuedCertificatesInsert } from './certificate.repository';
export { DeviceCertificatesService } from './device-certificates.service';
export type { CertState } from './certificate-status.service';
export { PkiModule } from '../pki.module';
export { DeviceCertificateGuard, AllowExpiredWithinGrace } from './device-certificate.guard';
export type { DeviceIdentity } from './device-certificate.guard';
export { DeviceCertificateAuthenticator } from './device-certificate.authenticator';
export type { CertificateStanding, DeviceAuthentication, PeerCertificate } from './device-certificate.authenticator';
