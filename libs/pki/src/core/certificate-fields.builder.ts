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
  Extension,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  Validity,
} from '@peculiar/asn1-x509';
import { invalid } from '@fleetguard/common';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
/** ub-common-name and ub-organization-name (RFC 5280 Appendix A). */
const MAX_NAME_LENGTH = 64;

/** An extension whose value is the DER of `value` (an asn1-x509 extension schema object). */
export function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
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
