/**
 * The one place the PKI core loads @peculiar/x509. The library resolves its algorithms through
 * tsyringe, which needs the Reflect metadata polyfill loaded first, and it takes its crypto from a
 * provider that must be set once (Node's WebCrypto here). Everything else in the core imports
 * `x509` from this file, never from the package directly, so the order cannot go wrong.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

if (!x509.cryptoProvider.has(x509.CryptoProvider.DEFAULT)) {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
}

export { x509 };
