// @fleetguard/hardening/nest: reports and scores, rescoring, the hardening service and module.
export * from '../entities/hardening-report.entity';
export * from '../entities/device-score.entity';
export * from './scoring-inputs';
export * from './scorer.cache';
export * from './hardening.repository';
export * from './rescore.batch';
export * from './score.view';
export * from './hardening.service';
export * from '../hardening.module';
