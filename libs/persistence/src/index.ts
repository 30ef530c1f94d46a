export * from './data-source.factory';
export * from './persistence.module';
export * from './embedded.lock';
export * from './returning-rows';
export * from './scratch-database';
export * from './private-directory';
