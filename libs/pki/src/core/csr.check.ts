/**
 * PKCS#10 certificate requests as devices send them: PEM, DER, or base64 DER (EST). A request is
 * accepted only after its signature verifies with the key it carries (proof of possession) and
 * that key passes the key policy. Nothing the request asks for beyond its key is used: the
 * certificate profile decides subject and extensions.
 *
 * Error codes: `csr.malformed`, `csr.too-large`, `csr.bad-signature`, `csr.key-not-allowed`,
 * `csr.signature-algorithm-not-allowed`. No parser exception escapes as anything else.
 */
import { verify as verifySignature, KeyObject } from 'node:crypto';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { invalid } from '@fleetguard/common';
import { decodeDerInput, DerInput } from './der-input.codec';
import { CsrParts, readDeviceCsr } from './device-csr.reader';
import { classifyPublicKey, DeviceKeyType, KeyPolicy, namedCurvePoint } from './public-key.policy';
import { x509 } from './x509.platform';

export interface ParsedCsr {
  /** DER SubjectPublicKeyInfo of the requested key. */
  publicKeySpkiDer: Buffer;
  keyType: DeviceKeyType;
  keyBits: number;
  /** The subject the request asked for, RFC 4514 style ("CN=x, O=y"); informative only. */
  subject: string;
  /** The first commonName of that subject, if any (EST simplereenroll compares it). */
  commonName?: string;
  /** The request as DER. */
  raw: Buffer;
}

export interface CsrCheckOptions extends KeyPolicy {
  /** Largest accepted request in bytes. Default 32 KiB. */
  maxBytes?: number;
}

const CSR_PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] as const;
const DEFAULT_MAX_BYTES = 32 * 1024;
/** Bounds on the BER parser for untrusted input (a CSR is a few dozen nodes). */
const BER_LIMITS = { maxDepth: 32, maxNodes: 2000 };

/** Signature algorithms accepted on a request, by OID, with the key type they need. SHA-1 is not. */
const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; family: 'ec' | 'rsa' | 'ed25519' }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', family: 'ec' }, // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': { hash: 'sha384', family: 'ec' }, // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4': { hash: 'sha512', family: 'ec' }, // ecdsa-with-SHA512
  '1.2.840.113549.1.1.11': { hash: 'sha256', family: 'rsa' }, // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': { hash: 'sha384', family: 'rsa' }, // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13': { hash: 'sha512', family: 'rsa' }, // sha512WithRSAEncryption
  '1.3.101.112': { hash: null, family: 'ed25519' }, // Ed25519
};

/**
 * Decodes a certificate request, checks its key against the policy and verifies its signature.
 * Returns a promise so that a key held elsewhere or a slower check can come later without
 * changing callers; today the work is synchronous (about half a millisecond for P-256).
 */
export async function parseCsr(input: DerInput, options: CsrCheckOptions = {}): Promise<ParsedCsr> {
  const der = decodeDerInput(input, {
    pemLabels: CSR_PEM_LABELS,
    errorPrefix: 'csr',
    what: 'certificate request',
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  });
  const parts = readCsr(der);

  const classified = classifyPublicKey(parts.spki, options, 'csr');
  const algorithm = SIGNATURE_ALGORITHMS[parts.signatureAlgorithm];
  if (!algorithm) {
    throw invalid(
      'csr.signature-algorithm-not-allowed',
      `Signature algorithm ${parts.signatureAlgorithm} is not accepted (use ECDSA or RSA with SHA-256/384/512, or Ed25519)`,
    );
  }
  const family = classified.key.asymmetricKeyType;
  if (family !== algorithm.family || !verifies(algorithm.hash, parts.info, classified.key, parts.signature)) {
    throw invalid('csr.bad-signature', 'The certificate request signature does not verify with its public key');
  }

  const spkiDer = Buffer.from(parts.spki);
  const parsed = withSubjectOf(
    { publicKeySpkiDer: spkiDer, keyType: classified.keyType, keyBits: classified.keyBits, raw: der },
    parts.subjectName,
  );
  verifiedKeys.set(parsed, { der: Buffer.from(spkiDer), spki: parts.spkiInfo });
  return parsed;
}

/**
 * A result of parseCsr whose `subject` and `commonName` are described on first use: most callers
 * never look (enrollment ignores them), and describing a name costs as much as verifying the
 * signature. A name that cannot be described throws csr.malformed at that point. `name` gives the
 * decoded subject.
 */
export function withSubjectOf(fields: Omit<ParsedCsr, 'subject' | 'commonName'>, name: () => Name): ParsedCsr {
  const parsed = { ...fields } as ParsedCsr;
  let subject: ReturnType<typeof describeSubject> | undefined;
  const described = () => (subject ??= describeSubject(name));
  Object.defineProperty(parsed, 'subject', { enumerable: true, get: () => described().subject });
  Object.defineProperty(parsed, 'commonName', { enumerable: true, get: () => described().commonName });
  return parsed;
}

/**
 * Results of parseCsr remember the decoded key they were checked with, so that issuance need not
 * decode it again (decoding a key through OpenSSL 3 costs about as much as signing a
 * certificate). Anything else handed to issuance, or a result whose key bytes were changed since,
 * is checked from scratch.
 */
const verifiedKeys = new WeakMap<object, { der: Buffer; spki?: SubjectPublicKeyInfo }>();

/**
 * Marks a result checked by parseCsr elsewhere (a worker of CsrCheckPool) as verified here. The
 * key is decoded again only if asked for (verifiedPublicKeyOf): issuing a P-256 or P-384
 * certificate needs only its point (verifiedSubjectPublicKeyOf).
 */
export function rememberVerifiedCsr(parsed: ParsedCsr): void {
  verifiedKeys.set(parsed, { der: Buffer.from(parsed.publicKeySpkiDer) });
}

function verifiedEntry(csr: object): { der: Buffer; spki?: SubjectPublicKeyInfo } | undefined {
  const known = verifiedKeys.get(csr);
  const current = (csr as Partial<ParsedCsr>).publicKeySpkiDer;
  return known && current instanceof Uint8Array && known.der.equals(current) ? known : undefined;
}

export function verifiedPublicKeyOf(csr: object): SubjectPublicKeyInfo | undefined {
  const known = verifiedEntry(csr);
  if (!known) return undefined;
  return (known.spki ??= AsnConvert.parse(known.der, SubjectPublicKeyInfo));
}

/** The subjectPublicKey (BIT STRING value) of a verified request's key, without decoding it for the usual EC keys. */
export function verifiedSubjectPublicKeyOf(csr: object): Uint8Array | undefined {
  const known = verifiedEntry(csr);
  if (!known) return undefined;
  return namedCurvePoint(known.der) ?? new Uint8Array(verifiedPublicKeyOf(csr)!.subjectPublicKey);
}

function describeSubject(subject: () => Name) {
  try {
    const name = new x509.Name(subject());
    return { subject: name.toString(), commonName: name.getField('CN')[0] as string | undefined };
  } catch {
    throw invalid('csr.malformed', 'Malformed certificate request: undecodable subject');
  }
}

/** What parseCsr checks of a request; the subject is decoded when it is described. */
type ReadCsr = Omit<CsrParts, 'subject'> & { subjectName: () => Name; spkiInfo?: SubjectPublicKeyInfo };

/** The device shape read from its bytes (device-csr.reader.ts); any other request by the schema classes. */
function readCsr(der: Buffer): ReadCsr {
  const fast = readDeviceCsr(der);
  if (fast) return { ...fast, subjectName: () => AsnConvert.parse(fast.subject, Name) };
  return readCsrWithSchema(der);
}

/** The subject of a request parseCsr accepted (`raw`), decoded: what a result from a CSR check worker is described from. */
export function subjectOfCheckedCsr(raw: Buffer): Name {
  return readCsr(raw).subjectName();
}

/** A request as the schema classes decode it (any PKCS#10 request), or csr.malformed. */
export function readCsrWithSchema(der: Buffer): ReadCsr & { spkiInfo: SubjectPublicKeyInfo } {
  const malformed = (reason: string) => invalid('csr.malformed', `Malformed certificate request: ${reason}`);
  let ber: ReturnType<typeof asn1js.fromBER>;
  try {
    ber = asn1js.fromBER(der, BER_LIMITS);
  } catch (e) {
    // asn1js throws on some malformed values (e.g. a UniversalString whose length is not a multiple of 4).
    throw malformed(e instanceof Error ? e.message : 'undecodable');
  }
  if (ber.offset === -1 || ber.result.error) throw malformed(ber.result.error || 'undecodable');
  if (ber.offset !== der.length) throw malformed('trailing bytes after the request');
  let request: CertificationRequest;
  try {
    request = AsnParser.fromASN(ber.result, CertificationRequest);
  } catch {
    throw malformed('not a PKCS#10 CertificationRequest');
  }
  const info = request.certificationRequestInfo;
  if (info.version !== 0) throw malformed('unknown version');
  if (!request.certificationRequestInfoRaw || request.signature.byteLength === 0) throw malformed('no signature');
  return {
    info: Buffer.from(request.certificationRequestInfoRaw),
    subjectName: () => info.subject,
    spki: Buffer.from(AsnConvert.serialize(info.subjectPKInfo)),
    spkiInfo: info.subjectPKInfo,
    signatureAlgorithm: request.signatureAlgorithm.algorithm,
    signature: Buffer.from(request.signature),
  };
}

/**
 * Synchronous on purpose: a verification takes well under a millisecond, and on Node 20
 * (OpenSSL 3.0) the thread-pool form of crypto.verify costs more CPU in hand-off than it saves.
 */
function verifies(hash: string | null, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    // A signature that is not even well-formed for the key type makes OpenSSL report an error
    // rather than `false`; both mean the same to the caller.
    return verifySignature(hash, data, key, signature);
  } catch {
    return false;
  }
}
