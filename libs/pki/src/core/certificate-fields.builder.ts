/**
 * Small builders shared by the certificate profiles and the CRL: names, extensions, key
 * identifiers, validity. Everything is an @peculiar/asn1-x509 schema object; nothing is encoded by
 * hand.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  KeyUsage,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { invalid } from '@fleetguard/common';
import { toArrayBuffer } from './der-input.codec';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
/** ub-common-name and ub-organization-name (RFC 5280 Appendix A). */
const MAX_NAME_LENGTH = 64;

/** An extension whose value is the DER of `value` (an asn1-x509 extension schema object). */
export function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/**
 * The extensions the profiles share (RFC 5280 4.2.1): basicConstraints and keyUsage critical, the
 * rest not. Device, server and CA certificates each pick theirs; the order in a certificate is the
 * profile's.
 */
export function basicConstraintsExtension(ca: false | { pathLenConstraint?: number }): Extension {
  return extension(id_ce_basicConstraints, true, new BasicConstraints(ca ? { cA: true, ...ca } : { cA: false }));
}

export function keyUsageExtension(flags: number): Extension {
  return extension(id_ce_keyUsage, true, new KeyUsage(flags));
}

export function extKeyUsageExtension(purpose: string): Extension {
  return extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([purpose]));
}

/** RFC 5280 4.2.1.2 method (1) of the certificate's own key. */
export function subjectKeyIdentifierExtension(publicKey: SubjectPublicKeyInfo): Extension {
  return extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(keyIdentifierOf(publicKey))));
}

/** The issuer's key identifier (its subjectKeyIdentifier). */
export function authorityKeyIdentifierExtension(issuerKeyIdentifier: Buffer): Extension {
  return extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(issuerKeyIdentifier)) }));
}

/** One distribution point, its full name the CRL's URL. */
export function crlDistributionPointsExtension(url: string): Extension {
  const point = new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) });
  return extension(id_ce_cRLDistributionPoints, false, new CRLDistributionPoints([point]));
}

/** A v3 TBSCertificate of the fields every profile sets. */
export function tbsCertificate(fields: { serial: Buffer; issuer: Name; subject: Name; publicKey: SubjectPublicKeyInfo; notBefore: Date; notAfter: Date; extensions: Extension[] }): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(fields.serial),
    issuer: fields.issuer,
    validity: validity(fields.notBefore, fields.notAfter),
    subject: fields.subject,
    subjectPublicKeyInfo: fields.publicKey,
    extensions: new Extensions(fields.extensions),
  });
}

/** A distinguished name of a commonName and, optionally, an organizationName before it (UTF8String). */
export function distinguishedName(commonName: string, organization?: string): Name {
  const rdn = (type: string, value: string) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name([...(organization ? [rdn(OID_ORGANIZATION, organization)] : []), rdn(OID_COMMON_NAME, commonName)]);
}

/** Checks a name attribute a caller supplied (CA common names, organization). */
export function assertNameValue(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() !== value || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw invalid('pki.bad-name', `${field} must be 1 to ${MAX_NAME_LENGTH} characters without surrounding spaces`);
  }
  if (/\p{Cc}/u.test(value)) throw invalid('pki.bad-name', `${field} must not contain control characters`);
  return value;
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifierOf(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
}

export function validity(notBefore: Date, notAfter: Date): Validity {
  return new Validity({ notBefore, notAfter });
}

/** X.509 times carry whole seconds; every date we report is truncated the same way. */
export function toWholeSeconds(time: number | Date): Date {
  const ms = typeof time === 'number' ? time : time.getTime();
  return new Date(Math.floor(ms / 1000) * 1000);
}

export const DAY_MS = 24 * 60 * 60 * 1000;
