import { X509Certificate, createHash } from 'node:crypto';
import { CaMaterial } from './certificate-authority';

/** What makes a CA this CA: its root certificate and its issuing key (the issuing certificate may be re-certified by the root). */
export interface CaIdentity {
  rootSubject: string;
  /** SHA-256 of the root certificate (DER), colon-separated hex as openssl prints it. */
  rootSha256: string;
  /** SHA-256 of the issuing CA's public key (SPKI DER), hex. */
  issuingKeySha256: string;
}

export function caIdentity(m: Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>): CaIdentity {
  const root = new X509Certificate(m.rootCertPem);
  const issuing = new X509Certificate(m.intermediateCertPem);
  return {
    rootSubject: root.subject.replace(/\n/g, ', '),
    rootSha256: root.fingerprint256,
    issuingKeySha256: createHash('sha256').update(issuing.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'),
  };
}

/** Null when both are the same CA, else a sentence naming the difference. */
export function caDifference(mine: CaIdentity, fleet: CaIdentity): string | null {
  if (mine.rootSha256 !== fleet.rootSha256) {
    return `root certificate SHA-256 ${mine.rootSha256} (${mine.rootSubject}) here, ${fleet.rootSha256} (${fleet.rootSubject}) in the fleet's database`;
  }
  if (mine.issuingKeySha256 !== fleet.issuingKeySha256) {
    return `issuing CA key SHA-256 ${mine.issuingKeySha256} here, ${fleet.issuingKeySha256} in the fleet's database (same root)`;
  }
  return null;
}
