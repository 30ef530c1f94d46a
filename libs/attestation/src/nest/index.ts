// @fleetguard/attestation/nest: the results entity, the attestation service facade, the attested-release reader, the module.
export * from '../entities/attestation-result.entity';
export * from './attestation.service';
export * from './attested-release.reader';
export * from '../attestation.module';
export { AppraisalPortsFactory } from './appraisal.ports';
export { JwsCryptoService } from './jws-crypto.service';
export type { InboxJob } from './evidence-inbox.repository';
