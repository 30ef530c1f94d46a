/**
 * The device certificate profile (SPEC "PKI"), and nothing else: whatever subject or extensions a
 * request asked for are ignored.
 *
 *   subject               CN=<deviceId>
 *   subjectAltName        URI urn:fleetguard:device:<deviceId>
 *   basicConstraints      critical, CA:FALSE
 *   keyUsage              critical, digitalSignature
 *   extKeyUsage           clientAuth
 *   subjectKeyIdentifier  SHA-1 of the device public key (RFC 5280 method 1)
 *   authorityKeyIdentifier  the intermediate's key identifier
 *   cRLDistributionPoints the configured CRL URL
 *   authorityInfoAccess   OCSP responder URL (id-ad-ocsp), when one is configured
 *   serial                16 random octets, positive
 */
import { AccessDescription, AuthorityInfoAccessSyntax, Extension, GeneralName, id_ad_ocsp, id_ce_subjectAltName, id_kp_clientAuth, id_pe_authorityInfoAccess, KeyUsageFlags, Name, SubjectAlternativeName, SubjectPublicKeyInfo, TBSCertificate } from '@peculiar/asn1-x509';
import { DEVICE_ID_PATTERN, invalid, isDeviceId } from '@fleetguard/common';
import { authorityKeyIdentifierExtension, basicConstraintsExtension, crlDistributionPointsExtension, distinguishedName, extension, extKeyUsageExtension, keyUsageExtension, subjectKeyIdentifierExtension, tbsCertificate } from './certificate-fields.builder';

export const DEVICE_URN_PREFIX = 'urn:fleetguard:device:';
/**
 * Device ids are the kernel's (DEVICE_ID_PATTERN, @fleetguard/common): 1..64 characters (the
 * ub-common-name bound), nothing that means something in a DN, a URN or an MQTT topic.
 */
export function assertDeviceId(deviceId: unknown): string {
  if (!isDeviceId(deviceId)) {
    throw invalid('pki.bad-device-id', `Device id must match ${DEVICE_ID_PATTERN}`);
  }
  return deviceId;
}

export function deviceUrn(deviceId: string): string {
  return DEVICE_URN_PREFIX + deviceId;
}

/** Checks a CRL distribution URL: absolute http(s), no credentials, bounded length. */
export function assertCrlUrl(url: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' && url.length <= 2048 ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.username || parsed.password) {
    throw invalid('pki.bad-crl-url', 'The CRL distribution point must be an absolute http(s) URL without credentials');
  }
  return url as string;
}

export interface DeviceCertificateFields {
  deviceId: string;
  publicKey: SubjectPublicKeyInfo;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  crlDistributionUrl: string;
  /** OCSP responder URL for the authorityInfoAccess extension; none when absent. */
  ocspUrl?: string;
}

/** Builds device TBSCertificates for one issuer; the extensions common to all are built once. */
export class DeviceCertificateProfile {
  private readonly fixedExtensions: Extension[];
  private readonly authorityKeyIdentifier: Extension;
  private crlExtension?: { url: string; extension: Extension };
  private aiaExtension?: { url: string; extension: Extension };

  constructor(
    private readonly issuer: Name,
    issuerKeyIdentifier: Buffer,
  ) {
    this.fixedExtensions = [basicConstraintsExtension(false), keyUsageExtension(KeyUsageFlags.digitalSignature), extKeyUsageExtension(id_kp_clientAuth)];
    this.authorityKeyIdentifier = authorityKeyIdentifierExtension(issuerKeyIdentifier);
  }

  build(fields: DeviceCertificateFields): TBSCertificate {
    return tbsCertificate({
      serial: fields.serial,
      issuer: this.issuer,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      subject: distinguishedName(fields.deviceId),
      publicKey: fields.publicKey,
      extensions: [
        ...this.fixedExtensions,
        extension(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: deviceUrn(fields.deviceId) })])),
        subjectKeyIdentifierExtension(fields.publicKey),
        ...this.fixedExtensionsAfter(fields.crlDistributionUrl, fields.ocspUrl),
      ],
    });
  }

  /** The extensions before the per-device ones (SAN, SKI), the same for every certificate. */
  fixedExtensionsBefore(): Extension[] {
    return [...this.fixedExtensions];
  }

  /** The extensions after the per-device ones, the same for every certificate with these URLs. */
  fixedExtensionsAfter(crlDistributionUrl: string, ocspUrl?: string): Extension[] {
    return [this.authorityKeyIdentifier, this.crlDistributionPoints(crlDistributionUrl), ...(ocspUrl ? [this.authorityInfoAccess(ocspUrl)] : [])];
  }

  private authorityInfoAccess(url: string): Extension {
    if (this.aiaExtension?.url !== url) {
      const aia = new AuthorityInfoAccessSyntax([
        new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: url }) }),
      ]);
      this.aiaExtension = { url, extension: extension(id_pe_authorityInfoAccess, false, aia) };
    }
    return this.aiaExtension.extension;
  }

  private crlDistributionPoints(url: string): Extension {
    if (this.crlExtension?.url !== url) this.crlExtension = { url, extension: crlDistributionPointsExtension(url) };
    return this.crlExtension.extension;
  }
}
