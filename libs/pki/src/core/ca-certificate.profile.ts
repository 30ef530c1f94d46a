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
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  Extension,
  GeneralName,
  id_ce_cRLDistributionPoints,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Version,
} from '@peculiar/asn1-x509';
import { extension, keyIdentifierOf, validity } from './certificate-fields.builder';
import { toArrayBuffer } from './der-input.codec';

export interface CaCertificateFields {
  subject: Name;
  publicKey: SubjectPublicKeyInfo;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

const CA_KEY_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

export function rootCaTbs(fields: CaCertificateFields): TBSCertificate {
  return caTbs(fields, fields.subject, [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
    extension(id_ce_keyUsage, true, new KeyUsage(CA_KEY_USAGE)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(keyIdentifierOf(fields.publicKey)))),
  ]);
}

export function intermediateCaTbs(
  fields: CaCertificateFields & { issuer: Name; issuerKeyIdentifier: Buffer; crlDistributionUrl?: string },
): TBSCertificate {
  const cdp = fields.crlDistributionUrl
    ? [
        extension(
          id_ce_cRLDistributionPoints,
          false,
          new CRLDistributionPoints([
            new DistributionPoint({
              distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: fields.crlDistributionUrl })] }),
            }),
          ]),
        ),
      ]
    : [];
  return caTbs(fields, fields.issuer, [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
    extension(id_ce_keyUsage, true, new KeyUsage(CA_KEY_USAGE)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(keyIdentifierOf(fields.publicKey)))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(fields.issuerKeyIdentifier)) }),
    ),
    ...cdp,
  ]);
}

function caTbs(fields: CaCertificateFields, issuer: Name, extensions: Extension[]): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(fields.serial),
    issuer,
    validity: validity(fields.notBefore, fields.notAfter),
    subject: fields.subject,
    subjectPublicKeyInfo: fields.publicKey,
    extensions: new Extensions(extensions),
  });
}
