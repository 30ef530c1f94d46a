/**
 * Device keys and PKCS#10 requests, as a device makes them before enrollment. Keys come from
 * Node's crypto; the request is built by @peculiar/x509 over Node's WebCrypto (passed explicitly,
 * so nothing global is configured here).
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its algorithms through tsyringe
import { generateKeyPair, KeyObject, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';

export const DEVICE_KEY_TYPES = ['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const;
export type DeviceKeyType = (typeof DEVICE_KEY_TYPES)[number];

/** Subject of the request. The CA ignores it (the profile sets CN=<deviceId>); it only says what the request is. */
export const CSR_SUBJECT = 'CN=pending';

export interface DeviceKeyPair {
  type: DeviceKeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const generate = promisify(generateKeyPair) as (type: string, options: object) => Promise<{ privateKey: KeyObject; publicKey: KeyObject }>;

export function isDeviceKeyType(value: unknown): value is DeviceKeyType {
  return typeof value === 'string' && (DEVICE_KEY_TYPES as readonly string[]).includes(value);
}

/** A fresh key pair (off the event loop: RSA generation takes a while). */
export async function generateDeviceKey(type: DeviceKeyType = 'P-256'): Promise<DeviceKeyPair> {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  switch (type) {
    case 'P-256':
    case 'P-384':
      pair = await generate('ec', { namedCurve: type });
      break;
    case 'Ed25519':
      pair = await generate('ed25519', {});
      break;
    case 'RSA-2048':
      pair = await generate('rsa', { modulusLength: 2048 });
      break;
    default:
      throw new Error(`unsupported device key type '${String(type)}' (one of ${DEVICE_KEY_TYPES.join(', ')})`);
  }
  return { type, ...pair };
}

/** The WebCrypto algorithm to import the key with and to sign the request with. */
function webCryptoAlgorithms(type: DeviceKeyType): { importAlg: Algorithm & Record<string, unknown>; signingAlgorithm: Algorithm & Record<string, unknown> } {
  switch (type) {
    case 'P-256':
      return { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'P-384':
      return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'Ed25519':
      return { importAlg: { name: 'Ed25519' }, signingAlgorithm: { name: 'Ed25519' } };
    case 'RSA-2048':
      return {
        importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      };
  }
}

/** A PKCS#10 request (PEM) for the key pair, signed with its private key (proof of possession). */
export async function createCsrPem(key: DeviceKeyPair, subject: string = CSR_SUBJECT): Promise<string> {
  const crypto = webcrypto as unknown as Crypto;
  const { importAlg, signingAlgorithm } = webCryptoAlgorithms(key.type);
  const privateDer = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  const publicDer = key.publicKey.export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await crypto.subtle.importKey('pkcs8', privateDer, importAlg, false, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', publicDer, importAlg, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm }, crypto);
  return csr.toString('pem');
}
