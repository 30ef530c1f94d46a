/**
 * The OCSP responder's wire format (RFC 6960), all structures from @peculiar/asn1-ocsp:
 *
 *   request   OCSPRequest: one or more CertIDs (hash of the issuer's name and key, serial), an
 *             optional nonce extension (RFC 8954: 1..32 octets, 128 accepted); signed requests are
 *             accepted but their signature is not required (RFC 6960 4.1.2).
 *   response  a BasicOCSPResponse signed by the issuing CA itself (4.2.2.2: the CA that issued
 *             the certificate in question), responderID byKey, producedAt, per CertID
 *             good | revoked (time, reason) | unknown with thisUpdate/nextUpdate, the request's
 *             nonce echoed, and the issuing CA certificate in `certs` for clients that lack it.
 *
 * CertID hashes: SHA-1 (what openssl sends by default), SHA-256, SHA-384 and SHA-512.
 * An undecodable request gets `malformedRequest` (an unsigned OCSPResponse), never an exception.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  KeyHash,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { Certificate, CRLReason, Extension, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { toWholeSeconds } from './certificate-fields.builder';
import { RevocationReason, revocationReasonCode } from './revocation-reason.codec';
import { CaSigner, signatureAlgorithmFor } from './x509.signer';

export { OCSPResponseStatus } from '@peculiar/asn1-ocsp';

export const OCSP_CONTENT_TYPES = { request: 'application/ocsp-request', response: 'application/ocsp-response' } as const;

/** Requests bigger than this are refused before decoding (a CertID is about 80 bytes). */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
const MAX_CERT_IDS = 32;
const MAX_NONCE_EXTN_BYTES = 130;

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export type OcspCertStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason: RevocationReason }
  | { status: 'unknown' };

/** An issuing CA as the responder sees it. */
export interface OcspIssuer {
  name: Name;
  publicKey: SubjectPublicKeyInfo;
  certificateDer: Buffer;
  signer: CaSigner;
}

export interface ParsedOcspRequest {
  certIds: CertID[];
  /** The nonce extension's extnValue, echoed as it came. */
  nonceExtnValue?: Buffer;
}

export class OcspRequestError extends Error {
  constructor(
    readonly status: OCSPResponseStatus,
    message: string,
  ) {
    super(message);
    this.name = 'OcspRequestError';
  }
}

const malformed = (why: string) => new OcspRequestError(OCSPResponseStatus.malformedRequest, why);

/**
 * Decodes an OCSPRequest; any problem is an OcspRequestError(malformedRequest) with the reason.
 * Whatever the bytes, nothing else is thrown: a failure of the schema classes past decoding
 * (re-encoding a value they read, a field of an unexpected shape) is a malformed request too,
 * not an error for the caller to turn into a 500.
 */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  try {
    return readOcspRequest(der);
  } catch (e) {
    if (e instanceof OcspRequestError) throw e;
    throw malformed(`undecodable OCSPRequest (${e instanceof Error ? e.message : String(e)})`);
  }
}

function readOcspRequest(der: Uint8Array): ParsedOcspRequest {
  if (!(der instanceof Uint8Array) || der.length === 0) throw malformed('empty request');
  if (der.length > MAX_OCSP_REQUEST_BYTES) throw malformed(`request above ${MAX_OCSP_REQUEST_BYTES} bytes`);
  let request: OCSPRequest;
  try {
    request = AsnConvert.parse(der, OCSPRequest);
  } catch (e) {
    throw malformed(`not a DER OCSPRequest (${(e as Error).message})`);
  }
  // The schema parser tolerates trailing bytes; a strict reader does not.
  if (AsnConvert.serialize(request).byteLength !== der.length) throw malformed('trailing or non-DER bytes');
  const list = request.tbsRequest?.requestList;
  if (!Array.isArray(list) || !list.length) throw malformed('no CertID in the request');
  if (list.length > MAX_CERT_IDS) throw malformed(`more than ${MAX_CERT_IDS} CertIDs`);
  for (const r of list) {
    const id = r?.reqCert;
    if (!id?.hashAlgorithm || !(id.issuerNameHash?.buffer instanceof ArrayBuffer) || !(id.issuerKeyHash?.buffer instanceof ArrayBuffer) || !(id.serialNumber instanceof ArrayBuffer)) {
      throw malformed('a CertID lacks a field');
    }
    if (id.serialNumber.byteLength === 0) throw malformed('a CertID without a serial');
  }
  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  let nonceExtnValue: Buffer | undefined;
  if (nonce) {
    nonceExtnValue = Buffer.from(nonce.extnValue.buffer);
    if (nonceExtnValue.length === 0 || nonceExtnValue.length > MAX_NONCE_EXTN_BYTES) throw malformed('nonce of a bad size');
  }
  return { certIds: list.map((r) => r.reqCert), nonceExtnValue };
}

/** The serial (lowercase hex, no leading zero octet) when the CertID names a certificate of `issuer`, else undefined. */
export function serialForIssuer(certId: CertID, issuer: Pick<OcspIssuer, 'name' | 'publicKey'>): string | undefined {
  const hash = HASHES[certId.hashAlgorithm.algorithm];
  if (!hash) return undefined;
  const nameHash = createHash(hash).update(Buffer.from(AsnConvert.serialize(issuer.name))).digest();
  const keyHash = createHash(hash).update(Buffer.from(issuer.publicKey.subjectPublicKey)).digest();
  if (!nameHash.equals(Buffer.from(certId.issuerNameHash.buffer)) || !keyHash.equals(Buffer.from(certId.issuerKeyHash.buffer))) return undefined;
  let serial = Buffer.from(certId.serialNumber);
  while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  return serial.toString('hex');
}

export interface OcspAnswer {
  certId: CertID;
  status: OcspCertStatus;
}

/** A successful response: the answers signed by `issuer`, valid from now for `validityMs`. */
export async function buildOcspResponse(
  issuer: OcspIssuer,
  answers: readonly OcspAnswer[],
  options: { nonceExtnValue?: Buffer; now?: Date; validityMs: number },
): Promise<Buffer> {
  const now = toWholeSeconds(options.now ?? new Date());
  const nextUpdate = toWholeSeconds(now.getTime() + options.validityMs);
  const responses = answers.map(
    ({ certId, status }) =>
      new SingleResponse({
        certID: certId,
        certStatus: certStatusOf(status),
        thisUpdate: now,
        nextUpdate,
      }),
  );
  const data = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(createHash('sha1').update(Buffer.from(issuer.publicKey.subjectPublicKey)).digest()) }),
    producedAt: now,
    responses,
    responseExtensions: options.nonceExtnValue
      ? [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(options.nonceExtnValue) })]
      : undefined,
  });
  const tbs = Buffer.from(AsnConvert.serialize(data));
  const signature = await issuer.signer.sign(tbs);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: signatureAlgorithmFor(issuer.signer.keyAlgorithm),
    signature: new Uint8Array(signature).buffer,
    certs: [AsnConvert.parse(issuer.certificateDer, Certificate)],
  });
  return Buffer.from(
    AsnConvert.serialize(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
      }),
    ),
  );
}

/** An unsuccessful response (malformedRequest, internalError, ...): no body, no signature (RFC 6960 2.3). */
export function ocspErrorResponse(status: OCSPResponseStatus): Buffer {
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

function certStatusOf(status: OcspCertStatus): CertStatus {
  if (status.status === 'good') return new CertStatus({ good: null });
  if (status.status === 'unknown') return new CertStatus({ unknown: null });
  return new CertStatus({
    revoked: new RevokedInfo({
      revocationTime: toWholeSeconds(status.revokedAt),
      // RFC 5280 5.3.1: `unspecified` is better left out, as on the CRL.
      revocationReason: status.reason === 'unspecified' ? undefined : new CRLReason(revocationReasonCode(status.reason)),
    }),
  });
}
