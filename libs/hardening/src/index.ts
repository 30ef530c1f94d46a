export * from './core';
// Nest layer.
export * from './entities/hardening-report.entity';
export * from './entities/device-score.entity';
export * from './nest/scoring-inputs';
export * from './nest/scorer.cache';
export * from './nest/hardening.repository';
export * from './nest/rescore.batch';
export * from './nest/score.view';
export * from './nest/hardening.service';
export * from './hardening.module';
