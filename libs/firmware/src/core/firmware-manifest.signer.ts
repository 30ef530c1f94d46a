import type { KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { FIRMWARE_ERROR, firmwareError } from './firmware.errors';
import { FirmwareManifest, parseManifestPayload } from './firmware-manifest.schema';

/**
 * Signs a detached manifest as a compact JWS with header `{alg, kid}`: ES256 for an EC P-256
 * private key, EdDSA for Ed25519. `keyId` is the signing key's id (hex SHA-256 of its SPKI DER,
 * `signingKeyFromKeyObject(createPublicKey(privateKey)).keyId`). For the CLI and tests.
 */
export async function signManifest(payload: FirmwareManifest, privateKey: KeyObject, keyId: string): Promise<string> {
  const manifest = parseManifestPayload({ ...payload });
  if (privateKey.type !== 'private') {
    throw firmwareError(FIRMWARE_ERROR.keyUnsupported, 'signing a manifest needs a private key');
  }
  let alg: 'ES256' | 'EdDSA';
  if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') alg = 'ES256';
  else if (privateKey.asymmetricKeyType === 'ed25519') alg = 'EdDSA';
  else {
    throw firmwareError(FIRMWARE_ERROR.keyUnsupported, 'manifests are signed with an EC P-256 (ES256) or Ed25519 (EdDSA) key');
  }
  const body = JSON.stringify({
    productId: manifest.productId,
    version: manifest.version,
    securityCounter: manifest.securityCounter,
    digest: manifest.digest,
    size: manifest.size,
  });
  return new CompactSign(new TextEncoder().encode(body)).setProtectedHeader({ alg, kid: keyId }).sign(privateKey);
}
