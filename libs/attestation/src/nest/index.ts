// @fleetguard/attestation/nest: the results entity, the attestation service facade, the attested-release reader, the module.
export * from '../entities/attestation-result.entity';
export * from './attestation.service';
export * from './attested-release.reader';
export * from '../attestation.module';
