/**
 * Signing of X.509 structures (certificates and CRLs) with a CA key.
 *
 * The TBS part is always built from @peculiar/asn1-x509 schema classes; this file only encodes it
 * once, signs those exact bytes, and wraps them with the signature algorithm and value in the
 * outer SEQUENCE that Certificate and CertificateList share (RFC 5280 4.1 and 5.1). Encoding the
 * TBS once (rather than once to sign and again inside the schema's Certificate) is what keeps
 * issuance cheap: ASN.1 encoding, not the ECDSA signature, dominates the cost of a certificate.
 *
 * The key stays a Node KeyObject imported once. Node's `crypto.sign` returns ECDSA signatures in
 * the DER form X.509 carries (WebCrypto would return r||s to re-encode). A PKCS#11 token can stand
 * in by implementing `CaSigner`.
 */
import { KeyObject, sign as nodeSign, verify as nodeVerify, randomBytes } from 'node:crypto';
import { AsnSerializer } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, TBSCertificate, TBSCertList } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { invalid } from '@fleetguard/common';

export type CaKeyAlgorithm = 'P-256' | 'P-384' | 'Ed25519';
export const CA_KEY_ALGORITHMS: readonly CaKeyAlgorithm[] = ['P-256', 'P-384', 'Ed25519'];

/** What the CA needs from its signing key, wherever it lives. */
export interface CaSigner {
  readonly keyAlgorithm: CaKeyAlgorithm;
  /** Signs `data` and returns the signature as X.509 carries it (DER for ECDSA). */
  sign(data: Buffer): Promise<Buffer>;
}

const SIGNATURE_OIDS: Record<CaKeyAlgorithm, { oid: string; hash: string | null }> = {
  'P-256': { oid: '1.2.840.10045.4.3.2', hash: 'sha256' }, // ecdsa-with-SHA256
  'P-384': { oid: '1.2.840.10045.4.3.3', hash: 'sha384' }, // ecdsa-with-SHA384
  Ed25519: { oid: '1.3.101.112', hash: null }, // id-Ed25519, no parameters (RFC 8410)
};

/** The AlgorithmIdentifier of signatures made with a key of this algorithm (no parameters). */
export function signatureAlgorithmFor(keyAlgorithm: CaKeyAlgorithm): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: SIGNATURE_OIDS[keyAlgorithm].oid });
}

/** The CA key algorithm of a Node key (private or public), or undefined for any other key. */
export function caKeyAlgorithmOf(key: KeyObject): CaKeyAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
}

/** A CaSigner over a private key held in process memory. */
export class KeyObjectSigner implements CaSigner {
  readonly keyAlgorithm: CaKeyAlgorithm;
  private readonly hash: string | null;

  constructor(readonly privateKey: KeyObject) {
    const algorithm = privateKey.type === 'private' ? caKeyAlgorithmOf(privateKey) : undefined;
    if (!algorithm) {
      throw invalid('ca.unsupported-key', `CA keys must be one of ${CA_KEY_ALGORITHMS.join(', ')} private keys`);
    }
    this.keyAlgorithm = algorithm;
    this.hash = SIGNATURE_OIDS[algorithm].hash;
  }

  sign(data: Buffer): Promise<Buffer> {
    // Synchronous on purpose: an ECDSA signature takes tens of microseconds, and measured on
    // Node 20 (OpenSSL 3.0) the thread-pool form costs several times that in hand-off overhead.
    return Promise.resolve(nodeSign(this.hash, data, this.privateKey));
  }
}

/** True when `signer` produces signatures that `publicKey` verifies: the key matches the cert. */
export async function signerMatchesPublicKey(signer: CaSigner, publicKey: KeyObject): Promise<boolean> {
  const probe = randomBytes(32);
  const signature = await signer.sign(probe);
  try {
    return nodeVerify(SIGNATURE_OIDS[signer.keyAlgorithm].hash, probe, publicKey, signature);
  } catch {
    return false;
  }
}

/** Signs a TBSCertificate; returns the DER Certificate. Sets the TBS signature algorithm. */
export function signCertificate(tbs: TBSCertificate, signer: CaSigner): Promise<Buffer> {
  tbs.signature = signatureAlgorithmFor(signer.keyAlgorithm);
  return signTbs(tbs, tbs.signature, signer);
}

/** Signs a TBSCertList; returns the DER CertificateList. Sets the TBS signature algorithm. */
export function signCertList(tbs: TBSCertList, signer: CaSigner): Promise<Buffer> {
  tbs.signature = signatureAlgorithmFor(signer.keyAlgorithm);
  return signTbs(tbs, tbs.signature, signer);
}

async function signTbs(tbs: object, algorithm: AlgorithmIdentifier, signer: CaSigner): Promise<Buffer> {
  const tbsAsn = AsnSerializer.toASN(tbs);
  const signature = await signer.sign(Buffer.from(tbsAsn.toBER(false)));
  const signed = new asn1js.Sequence({
    value: [tbsAsn, AsnSerializer.toASN(algorithm), new asn1js.BitString({ valueHex: signature })],
  });
  return Buffer.from(signed.toBER(false));
}
