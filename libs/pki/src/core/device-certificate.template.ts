/**
 * The fast encoding path of the device certificate profile (device-certificate.profile.ts).
 *
 * In a device certificate only the serial, the validity, the subject CN, the SAN URN, the public
 * key and its key identifier change; everything else (version, signature algorithm, issuer,
 * basicConstraints, keyUsage, extKeyUsage, authorityKeyIdentifier, cRLDistributionPoints,
 * authorityInfoAccess) is the same for every certificate of one CA. Those constant parts are
 * encoded ONCE by the @peculiar/asn1-x509 schema classes (`DeviceCertificateProfile` builds
 * them); per certificate, only the changing primitives are written and the DER SEQUENCEs around
 * them are framed (tag, definite length, content). The schema path costs ~0.5 ms a certificate in
 * ASN.1 object building and encoding; this one a few microseconds.
 *
 * The output is byte for byte what `signCertificate(profile.build(...))` produces: the spec
 * checks that on random inputs, so the profile stays defined in one place (the schema classes)
 * and this file is only a faster way to write the same bytes.
 */
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extension, Name } from '@peculiar/asn1-x509';
import { DeviceCertificateProfile, deviceUrn } from './device-certificate.profile';

/** DER tag-length-value with a definite length (X.690 8.1.3). */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let head: Buffer;
  if (n < 0x80) head = Buffer.from([tag, n]);
  else if (n < 0x100) head = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) head = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else head = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, content]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const UTF8_STRING = 0x0c;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const OID_CN = Buffer.from('0603550403', 'hex'); // 2.5.4.3
const OID_SAN = Buffer.from('0603551d11', 'hex'); // 2.5.29.17
const OID_SKI = Buffer.from('0603551d0e', 'hex'); // 2.5.29.14
const VERSION_3 = Buffer.from('a003020102', 'hex');

const pad = (v: number, width = 2) => String(v).padStart(width, '0');

/** X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime after; whole seconds, Z. */
function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return y > 2049 ? tlv(GENERALIZED_TIME, Buffer.from(`${pad(y, 4)}${rest}`, 'latin1')) : tlv(UTC_TIME, Buffer.from(`${pad(y % 100)}${rest}`, 'latin1'));
}

function extensionDer(oid: Buffer, value: Buffer): Buffer {
  return tlv(SEQUENCE, Buffer.concat([oid, tlv(OCTET_STRING, value)]));
}

export interface TemplateFields {
  deviceId: string;
  /** DER SubjectPublicKeyInfo, as checked. */
  publicKeySpkiDer: Buffer;
  /** The subjectPublicKey BIT STRING value (its SHA-1 is the subject key identifier). */
  subjectPublicKey: Uint8Array;
  /** Positive INTEGER content octets, minimal. */
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/**
 * A template's constant DER for one CA and one pair of URLs, as plain bytes: what a worker
 * thread needs to write device certificates (csr-check.pool.ts) without the schema classes.
 */
export interface DeviceTemplateParts {
  signatureAlgorithmDer: Buffer;
  issuerDer: Buffer;
  /** The fixed extensions before the SAN and the SKI, DER, concatenated. */
  fixedBefore: Buffer;
  /** The fixed extensions after them (CRL distribution point, AIA), DER, concatenated. */
  fixedAfter: Buffer;
}

/** DER TBSCertificate of the device profile from a template's constant parts and one certificate's fields. */
export function deviceTbsDer(parts: DeviceTemplateParts, fields: TemplateFields): Buffer {
  const urn = Buffer.from(deviceUrn(fields.deviceId), 'utf8');
  // GeneralNames ::= SEQUENCE OF GeneralName; uniformResourceIdentifier is [6] IMPLICIT IA5String.
  const san = extensionDer(OID_SAN, tlv(SEQUENCE, tlv(0x86, urn)));
  const ski = extensionDer(OID_SKI, tlv(OCTET_STRING, createHash('sha1').update(fields.subjectPublicKey).digest()));
  // extensions [3] EXPLICIT Extensions, in the profile's order.
  const extensionsDer = tlv(0xa3, tlv(SEQUENCE, Buffer.concat([parts.fixedBefore, san, ski, parts.fixedAfter])));
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, Buffer.concat([OID_CN, tlv(UTF8_STRING, Buffer.from(fields.deviceId, 'utf8'))]))));
  return tlv(
    SEQUENCE,
    Buffer.concat([
      VERSION_3,
      tlv(INTEGER, fields.serial),
      parts.signatureAlgorithmDer,
      parts.issuerDer,
      tlv(SEQUENCE, Buffer.concat([time(fields.notBefore), time(fields.notAfter)])),
      subject,
      fields.publicKeySpkiDer,
      extensionsDer,
    ]),
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function deviceCertificateDer(signatureAlgorithmDer: Buffer, tbs: Buffer, signature: Buffer): Buffer {
  return tlv(SEQUENCE, Buffer.concat([tbs, signatureAlgorithmDer, tlv(BIT_STRING, Buffer.concat([Buffer.from([0]), signature]))]));
}

export class DeviceCertificateTemplate {
  private readonly signatureAlgorithmDer: Buffer;
  private readonly issuerDer: Buffer;
  private readonly fixedBefore: Buffer;
  private fixedAfter?: { key: string; parts: DeviceTemplateParts };

  constructor(
    private readonly profile: DeviceCertificateProfile,
    issuer: Name,
    signatureAlgorithm: AlgorithmIdentifier,
  ) {
    this.signatureAlgorithmDer = Buffer.from(AsnConvert.serialize(signatureAlgorithm));
    this.issuerDer = Buffer.from(AsnConvert.serialize(issuer));
    this.fixedBefore = Buffer.concat(profile.fixedExtensionsBefore().map((e) => Buffer.from(AsnConvert.serialize(e))));
  }

  /** The DER AlgorithmIdentifier of the signature, as the certificate carries it twice. */
  get signatureAlgorithm(): Buffer {
    return this.signatureAlgorithmDer;
  }

  /** DER TBSCertificate of the device profile. */
  tbsDer(fields: TemplateFields, crlDistributionUrl: string, ocspUrl?: string): Buffer {
    return deviceTbsDer(this.parts(crlDistributionUrl, ocspUrl), fields);
  }

  /** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
  certificateDer(tbs: Buffer, signature: Buffer): Buffer {
    return deviceCertificateDer(this.signatureAlgorithmDer, tbs, signature);
  }

  /** The constant DER for these URLs (the same object while they stay the same). */
  parts(crlDistributionUrl: string, ocspUrl?: string): DeviceTemplateParts {
    const key = `${crlDistributionUrl}\n${ocspUrl ?? ''}`;
    if (this.fixedAfter?.key !== key) {
      const exts: Extension[] = this.profile.fixedExtensionsAfter(crlDistributionUrl, ocspUrl);
      const fixedAfter = Buffer.concat(exts.map((e) => Buffer.from(AsnConvert.serialize(e))));
      this.fixedAfter = { key, parts: { signatureAlgorithmDer: this.signatureAlgorithmDer, issuerDer: this.issuerDer, fixedBefore: this.fixedBefore, fixedAfter } };
    }
    return this.fixedAfter.parts;
  }
}
