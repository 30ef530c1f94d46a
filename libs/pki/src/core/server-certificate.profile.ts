/**
 * The TLS server certificate profile, for the service's own listeners that devices connect to
 * (device HTTPS, MQTT over TLS), issued by the same intermediate so devices need one trust anchor:
 *
 *   subject               CN=<commonName>
 *   subjectAltName        the DNS names and IP addresses (at least one; TLS clients match these)
 *   basicConstraints      critical, CA:FALSE
 *   keyUsage              critical, digitalSignature (+ keyEncipherment for an RSA key)
 *   extKeyUsage           serverAuth only, so it can never pass as a device (client) certificate
 *   subjectKeyIdentifier, authorityKeyIdentifier, and cRLDistributionPoints when a URL is given
 */
import { isIP } from 'node:net';
import { GeneralName, id_ce_subjectAltName, id_kp_serverAuth, KeyUsageFlags, Name, SubjectAlternativeName, SubjectPublicKeyInfo, TBSCertificate } from '@peculiar/asn1-x509';
import { invalid } from '@fleetguard/common';
import { authorityKeyIdentifierExtension, basicConstraintsExtension, crlDistributionPointsExtension, distinguishedName, extension, extKeyUsageExtension, keyUsageExtension, subjectKeyIdentifierExtension, tbsCertificate } from './certificate-fields.builder';

export interface ServerCertificateFields {
  commonName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  publicKey: SubjectPublicKeyInfo;
  /** RSA keys also get keyEncipherment (TLS 1.2 RSA key transport). Default: read from the key. */
  rsaKey?: boolean;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  crlDistributionUrl?: string;
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A host name for a SAN dNSName: LDH labels, at most 253 characters, no wildcard. */
export function assertDnsName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 253 || !name.split('.').every((l) => DNS_LABEL.test(l))) {
    throw invalid('pki.bad-server-name', `${JSON.stringify(name)} is not a DNS host name`);
  }
  return name;
}

/** An IPv4 address in dotted form or an IPv6 address in hex form (no embedded IPv4). */
export function assertIpAddress(address: unknown): string {
  const family = typeof address === 'string' ? isIP(address) : 0;
  if (family === 0 || (family === 6 && (address as string).includes('.'))) {
    throw invalid('pki.bad-server-name', `${JSON.stringify(address)} is not an IP address`);
  }
  return address as string;
}

const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** Builds the TBSCertificate; checks the names (`pki.bad-server-name`, at least one needed). */
export function buildServerCertificateTbs(issuer: Name, issuerKeyIdentifier: Buffer, fields: ServerCertificateFields): TBSCertificate {
  const dnsNames = [...(fields.dnsNames ?? [])].map(assertDnsName);
  const ipAddresses = [...(fields.ipAddresses ?? [])].map(assertIpAddress);
  if (dnsNames.length + ipAddresses.length === 0) {
    throw invalid('pki.bad-server-name', 'A server certificate needs at least one DNS name or IP address');
  }
  const rsaKey = fields.rsaKey ?? fields.publicKey.algorithm.algorithm === OID_RSA_ENCRYPTION;
  const names = [
    ...dnsNames.map((dNSName) => new GeneralName({ dNSName })),
    ...ipAddresses.map((iPAddress) => new GeneralName({ iPAddress })),
  ];
  return tbsCertificate({
    serial: fields.serial,
    issuer,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    subject: distinguishedName(fields.commonName),
    publicKey: fields.publicKey,
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension(KeyUsageFlags.digitalSignature | (rsaKey ? KeyUsageFlags.keyEncipherment : 0)),
      extKeyUsageExtension(id_kp_serverAuth),
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names)),
      subjectKeyIdentifierExtension(fields.publicKey),
      authorityKeyIdentifierExtension(issuerKeyIdentifier),
      ...(fields.crlDistributionUrl ? [crlDistributionPointsExtension(fields.crlDistributionUrl)] : []),
    ],
  });
}
