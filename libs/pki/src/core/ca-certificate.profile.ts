/**
 * Profiles of the two CA certificates (RFC 5280 4.2.1.3, 4.2.1.9):
 *
 *   root          self-signed; basicConstraints critical CA:TRUE; keyUsage critical
 *                 keyCertSign, cRLSign; subjectKeyIdentifier
 *   intermediate  issued by the root; basicConstraints critical CA:TRUE, pathLen 0 (it issues
 *                 only end-entity certificates); keyUsage critical keyCertSign, cRLSign;
 *                 subjectKeyIdentifier; authorityKeyIdentifier = the root's key identifier;
 *                 cRLDistributionPoints = the root CRL URL (`/pki/root-crl`) when given
 */
import { Extension, KeyUsageFlags, Name, SubjectPublicKeyInfo, TBSCertificate } from '@peculiar/asn1-x509';
import { authorityKeyIdentifierExtension, basicConstraintsExtension, crlDistributionPointsExtension, keyUsageExtension, subjectKeyIdentifierExtension, tbsCertificate } from './certificate-fields.builder';

export interface CaCertificateFields {
  subject: Name;
  publicKey: SubjectPublicKeyInfo;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

const CA_KEY_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

export function rootCaTbs(fields: CaCertificateFields): TBSCertificate {
  return caTbs(fields, fields.subject, [basicConstraintsExtension({}), keyUsageExtension(CA_KEY_USAGE), subjectKeyIdentifierExtension(fields.publicKey)]);
}

export function intermediateCaTbs(
  fields: CaCertificateFields & { issuer: Name; issuerKeyIdentifier: Buffer; crlDistributionUrl?: string },
): TBSCertificate {
  return caTbs(fields, fields.issuer, [
    basicConstraintsExtension({ pathLenConstraint: 0 }),
    keyUsageExtension(CA_KEY_USAGE),
    subjectKeyIdentifierExtension(fields.publicKey),
    authorityKeyIdentifierExtension(fields.issuerKeyIdentifier),
    ...(fields.crlDistributionUrl ? [crlDistributionPointsExtension(fields.crlDistributionUrl)] : []),
  ]);
}

function caTbs(fields: CaCertificateFields, issuer: Name, extensions: Extension[]): TBSCertificate {
  return tbsCertificate({ ...fields, issuer, extensions });
}
