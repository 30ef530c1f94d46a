/**
 * Reading fields back out of certificates this CA (or anyone) issued: the CRL distribution
 * point URL, through @peculiar/asn1-x509 schema classes.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CRLDistributionPoints, id_ce_cRLDistributionPoints } from '@peculiar/asn1-x509';
import { decodeDerInput, DerInput } from './der-input.codec';

/** The first URI of the first CRL distribution point, or undefined when there is none. */
export function crlDistributionUrlOf(certificate: DerInput): string | undefined {
  const der = decodeDerInput(certificate, { pemLabels: ['CERTIFICATE'], errorPrefix: 'cert', what: 'certificate', maxBytes: 64 * 1024 });
  const ext = AsnConvert.parse(der, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === id_ce_cRLDistributionPoints);
  if (!ext) return undefined;
  const points = AsnConvert.parse(ext.extnValue, CRLDistributionPoints);
  return points[0]?.distributionPoint?.fullName?.find((n) => n.uniformResourceIdentifier)?.uniformResourceIdentifier;
}
