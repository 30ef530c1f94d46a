/** Jest runs TypeScript through swc, in CommonJS. NestJS 12, aedes and jose ship as ES modules,
 * so node_modules are transformed too (swc is fast and jest caches the result). */
const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
};
module.exports = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/*.int-spec.ts'],
  transform: { '^.+\\.(t|j|mj|cj)s$': ['@swc/jest', swcOptions] },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|aedes|aedes-[^/]+|jose|@electric-sql|uuid|mqemitter|aedes-persistence|@noble|@secvisogram|temporal-polyfill)/)'],
  moduleNameMapper: {
    '^@fleetguard/([^/]+)/(nest|testing)$': '<rootDir>/libs/$1/src/$2',
    '^@fleetguard/(.*)$': '<rootDir>/libs/$1/src',
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
