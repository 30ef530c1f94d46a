'use strict';
/**
 * Jest environment for suites that verify ECDSA (see digest-signature.verifier.ts).
 *
 * @noble/curves 2.x ships ES modules only and this repo's jest.config.js does not transform
 * node_modules/@noble, so jest's own loader cannot require it. An environment module is loaded by
 * Node itself, where `require(esm)` works (Node >= 20.19): it loads the real module and hands it
 * to the sandbox, and the suite maps the import to it with
 *   jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist)
 * Once `@noble` is added to transformIgnorePatterns, both lines can go.
 */
const { TestEnvironment } = require('jest-environment-node');

class NobleTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.__fleetguardNobleNist = require('@noble/curves/nist.js');
  }
}

module.exports = NobleTestEnvironment;
