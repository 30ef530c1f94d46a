/**
 * Wire formats of EST (RFC 7030) under /.well-known/est/:
 *
 *   cacerts, simpleenroll, simplereenroll responses: a degenerate CMS SignedData holding only
 *     certificates ("certs-only", RFC 5652 5.1 with no signers and no encapsulated content),
 *     base64-encoded in the body; `application/pkcs7-mime` for cacerts (RFC 7030 4.1.3) and
 *     `application/pkcs7-mime; smime-type=certs-only` for the enroll responses (4.2.3);
 *   simpleenroll, simplereenroll requests: a base64 PKCS#10 (`application/pkcs10`);
 *   csrattrs: a base64 CsrAttrs (`application/csrattrs`, RFC 7030 4.5.2).
 *
 * All structures come from @peculiar/asn1-cms / asn1-x509 / asn1-schema classes.
 */
import {
  AsnArray,
  AsnConvert,
  AsnObjectIdentifierConverter,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
} from '@peculiar/asn1-schema';
import {
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContentInfo,
  id_data,
  id_signedData,
  SignedData,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { Attribute, Certificate } from '@peculiar/asn1-x509';
import { invalid } from '@fleetguard/common';
import { decodeDerInput, DerInput, wrapLines } from './der-input.codec';

export const EST_CONTENT_TYPES = {
  cacerts: 'application/pkcs7-mime',
  certsOnly: 'application/pkcs7-mime; smime-type=certs-only',
  pkcs10: 'application/pkcs10',
  csrattrs: 'application/csrattrs',
} as const;

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  challengePassword: '1.2.840.113549.1.9.7',
} as const;

/** The certificates as a DER ContentInfo(SignedData), certs-only. Order is kept. */
export function toPkcs7CertsOnly(certsDer: readonly Uint8Array[]): Buffer {
  if (!Array.isArray(certsDer) || certsDer.length === 0) {
    throw invalid('est.no-certificates', 'A certs-only message needs at least one certificate');
  }
  const choices = certsDer.map((der, index) => {
    let certificate: Certificate;
    try {
      certificate = AsnConvert.parse(der, Certificate);
    } catch {
      throw invalid('est.bad-certificate', `Certificate ${index} cannot be parsed`);
    }
    // The certificate is re-encoded inside the SignedData; refuse one that would not come out
    // byte for byte (a non-DER input), since its signature would no longer verify.
    if (!Buffer.from(AsnConvert.serialize(certificate)).equals(Buffer.from(der))) {
      throw invalid('est.bad-certificate', `Certificate ${index} is not in DER`);
    }
    return new CertificateChoices({ certificate });
  });
  const signedData = new SignedData({
    version: CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers(),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_data }),
    certificates: new CertificateSet(choices),
    signerInfos: new SignerInfos(),
  });
  const contentInfo = new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) });
  return Buffer.from(AsnConvert.serialize(contentInfo));
}

/**
 * Base64 for an EST body: lines of `lineLength` characters (64 by default, 76 at most as MIME
 * allows) ended by LF, which `openssl base64 -d` and `base64 -d` both read.
 */
export function estBase64Encode(der: Uint8Array, lineLength: 64 | 76 = 64): string {
  if (lineLength !== 64 && lineLength !== 76) throw invalid('est.bad-line-length', 'lineLength must be 64 or 76');
  return wrapLines(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64'), lineLength, '\n');
}

/**
 * The DER inside an EST request body: base64 with any whitespace (the RFC form), or, tolerated
 * from lenient clients, PEM or raw DER. Errors: `est.malformed`, `est.too-large`.
 */
export function estDecodeBody(body: DerInput, maxBytes = 64 * 1024): Buffer {
  return decodeDerInput(body, {
    pemLabels: ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST', 'CERTIFICATE', 'PKCS7'],
    errorPrefix: 'est',
    what: 'EST body',
    maxBytes,
  });
}

/** AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute } (RFC 7030 4.5.2). */
@AsnType({ type: AsnTypeTypes.Choice })
export class AttrOrOid {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  oid?: string;

  @AsnProp({ type: Attribute })
  attribute?: Attribute;

  constructor(params: Partial<AttrOrOid> = {}) {
    Object.assign(this, params);
  }
}

/** CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID */
@AsnType({ type: AsnTypeTypes.Sequence, itemType: AttrOrOid })
export class CsrAttrs extends AsnArray<AttrOrOid> {
  constructor(items?: AttrOrOid[]) {
    super(items);
    Object.setPrototypeOf(this, CsrAttrs.prototype);
  }
}

export interface CsrAttrsOptions {
  /** The key the server asks for: an EC key on this curve, signed with the matching ECDSA. Default P-256. */
  curve?: 'P-256' | 'P-384';
  /**
   * Ask for a challengePassword attribute. Default false: Fleetguard takes the enrollment token as
   * the HTTP Basic password (SPEC "EST"), not inside the request.
   */
  challengePassword?: boolean;
}

/**
 * The csrattrs answer: an Attribute { id-ecPublicKey, { <curve> } } saying which key to
 * generate (RFC 7030 4.5.2 example), the signature algorithm OID, and optionally
 * challengePassword. Returns DER; send it through estBase64Encode.
 */
export function buildCsrAttrs(options: CsrAttrsOptions = {}): Buffer {
  const curve = options.curve ?? 'P-256';
  if (curve !== 'P-256' && curve !== 'P-384') throw invalid('est.bad-csrattrs', 'curve must be P-256 or P-384');
  const curveOid = curve === 'P-256' ? OID.prime256v1 : OID.secp384r1;
  const signatureOid = curve === 'P-256' ? OID.ecdsaWithSHA256 : OID.ecdsaWithSHA384;
  const items = [
    ...(options.challengePassword ? [new AttrOrOid({ oid: OID.challengePassword })] : []),
    new AttrOrOid({
      attribute: new Attribute({ type: OID.ecPublicKey, values: [AsnObjectIdentifierConverter.toASN(curveOid).toBER(false)] }),
    }),
    new AttrOrOid({ oid: signatureOid }),
  ];
  return Buffer.from(AsnConvert.serialize(new CsrAttrs(items)));
}
