/**
 * Validation of a client certificate a device presents (mutual TLS, EST simplereenroll, device
 * HTTP API): issued by our intermediate (signature checked by Node/OpenSSL), inside its validity
 * at the given time, and shaped like our device profile (CN = device id, matching SAN URI, not a
 * CA, clientAuth). Revocation is not decided here: callers check the serial against the store of
 * revoked certificates, which is fresher than any CRL.
 *
 * Error codes: `cert.malformed` (400), `cert.untrusted`, `cert.expired`, `cert.not-yet-valid`,
 * `cert.bad-profile` (401).
 */
import { createHash, KeyObject, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { DomainError, invalid, isDeviceId } from '@fleetguard/common';
import { decodeDerInput, DerInput } from './der-input.codec';
import { DEVICE_URN_PREFIX } from './device-certificate.profile';
import { parseSerialHex } from './serial-number.generator';

export interface VerifiedDeviceCertificate {
  deviceId: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** True when `at` is past notAfter but within the grace period the caller allowed. */
  expired: boolean;
  /**
   * DER SubjectPublicKeyInfo of the device key (to check signatures the device makes). Read when
   * first asked for (a getter): exporting it through OpenSSL costs about 0.1 ms, a sixth of a
   * connect's time in a reconnect storm, and the broker never asks.
   */
  readonly publicKeySpkiDer: Buffer;
}

export interface VerifyDeviceCertificateOptions {
  /** The time to judge validity at. Default: now. */
  at?: Date;
  /** Accept a certificate this many seconds past notAfter (renewal grace); default 0. */
  graceSeconds?: number;
}

export interface DeviceCertificateIssuer {
  intermediateCertPem: string;
  /** When given, the intermediate must chain to it. */
  rootCertPem?: string;
}

const MAX_CERT_BYTES = 16 * 1024;
/** Certificates whose checks are remembered (a fleet's worth; about 0.5 kB each). */
export const KNOWN_CERTIFICATES = 100_000;

/** What a certificate's bytes alone decide (issuer, signature, profile); its validity is judged at each use. */
interface Known {
  deviceId: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** The key's DER SubjectPublicKeyInfo, once someone asked for it. */
  spki?: Buffer;
}
const denied = (code: string, message: string) => new DomainError(code, message, 'unauthorized');

export class DeviceCertificateVerifier {
  private readonly intermediatePublicKey: KeyObject;
  /**
   * Certificates already found to be ours, by the SHA-256 of their DER: a device reconnecting
   * presents the same bytes, whose issuer, signature and profile cannot have changed, so they are
   * checked once (validity is still judged at every call; revocation is the caller's, as ever).
   * Least recently used first; failures are not remembered.
   */
  private readonly known = new Map<string, Known>();

  private constructor(private readonly intermediate: NodeX509Certificate) {
    this.intermediatePublicKey = intermediate.publicKey;
  }

  /**
   * A certificate this verifier's CA issued, as it was issued (the DER it signed and the fields it
   * signed it with), remembered as checked: its issuer, signature and profile are ours by
   * construction, so a device presenting exactly these bytes is answered from memory (validity is
   * still judged at each call, revocation still the caller's). Used at boot with the certificates
   * the database holds, so the first connection of every device after a restart costs no parse.
   * Fills free room only: it never evicts a certificate checked for real. Never throws (boot
   * goes on whatever a row holds); the serial is kept in lower case, as the status cache keeps it.
   */
  remember(der: Buffer, issued: { deviceId: string; serialHex: string; notBefore: Date; notAfter: Date }): boolean {
    if (this.known.size >= KNOWN_CERTIFICATES) return false;
    const fingerprint = createHash('sha256').update(der).digest('base64');
    if (!this.known.has(fingerprint)) {
      this.known.set(fingerprint, { deviceId: issued.deviceId, serialHex: issued.serialHex.toLowerCase(), notBefore: new Date(issued.notBefore), notAfter: new Date(issued.notAfter) });
    }
    return true;
  }

  /**
   * Takes over what another verifier of the same issuer (the same key and name: the intermediate
   * re-certified, e.g. to name the root CRL) knows; its certificates are this one's.
   */
  adoptKnown(from: DeviceCertificateVerifier): void {
    if (!from.intermediatePublicKey.equals(this.intermediatePublicKey) || from.intermediate.subject !== this.intermediate.subject) {
      throw invalid('ca.bad-chain', 'Another issuer: its certificates are not this one\'s');
    }
    for (const [fingerprint, known] of from.known) {
      if (this.known.size >= KNOWN_CERTIFICATES) break;
      if (!this.known.has(fingerprint)) this.known.set(fingerprint, known);
    }
  }

  /** How many certificates are remembered (at most KNOWN_CERTIFICATES). */
  get remembered(): number {
    return this.known.size;
  }

  /** Builds a verifier for certificates issued by `issuer.intermediateCertPem`. */
  static fromPem(issuer: DeviceCertificateIssuer): DeviceCertificateVerifier {
    const intermediate = parseCaCertificate(issuer.intermediateCertPem, 'intermediate');
    if (issuer.rootCertPem !== undefined) {
      const root = parseCaCertificate(issuer.rootCertPem, 'root');
      if (!intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
        throw invalid('ca.bad-chain', 'The intermediate certificate is not issued by the root certificate');
      }
    }
    return new DeviceCertificateVerifier(intermediate);
  }

  /**
   * `certificate` may be a Node X509Certificate already parsed (a TLS socket's
   * `getPeerX509Certificate()`), which spares parsing the DER again on the connect path.
   */
  verify(certificate: DerInput | NodeX509Certificate, options: VerifyDeviceCertificateOptions = {}): VerifiedDeviceCertificate {
    const at = options.at ?? new Date();
    const graceSeconds = options.graceSeconds ?? 0;
    if (!(at instanceof Date) || Number.isNaN(at.getTime()) || !(graceSeconds >= 0)) {
      throw invalid('cert.bad-options', 'at must be a valid Date and graceSeconds a non-negative number');
    }
    const der =
      certificate instanceof NodeX509Certificate
        ? certificate.raw
        : decodeDerInput(certificate, { pemLabels: ['CERTIFICATE'], errorPrefix: 'cert', what: 'certificate', maxBytes: MAX_CERT_BYTES });
    if (der.length > MAX_CERT_BYTES) throw invalid('cert.too-large', `Certificate over ${MAX_CERT_BYTES} bytes`);
    const fingerprint = createHash('sha256').update(der).digest('base64');
    let known = this.known.get(fingerprint);
    if (known) {
      this.known.delete(fingerprint);
    } else {
      known = this.check(certificate instanceof NodeX509Certificate ? certificate : der);
      if (this.known.size >= KNOWN_CERTIFICATES) this.known.delete(this.known.keys().next().value!);
    }
    this.known.set(fingerprint, known);

    const { deviceId, serialHex, notBefore, notAfter } = known;
    if (at.getTime() < notBefore.getTime()) throw denied('cert.not-yet-valid', `The certificate is not valid before ${notBefore.toISOString()}`);
    const expired = at.getTime() > notAfter.getTime();
    if (expired && at.getTime() > notAfter.getTime() + graceSeconds * 1000) {
      throw denied('cert.expired', `The certificate expired at ${notAfter.toISOString()}`);
    }
    const entry = known;
    return {
      deviceId,
      serialHex,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      expired,
      // A copy each time: what a caller does with it does not change the next answer.
      get publicKeySpkiDer() {
        entry.spki ??= (certificate instanceof NodeX509Certificate ? certificate : new NodeX509Certificate(der)).publicKey.export({ type: 'spki', format: 'der' });
        return Buffer.from(entry.spki);
      },
    };
  }

  /** Issuer, signature and profile of one certificate (what its bytes decide). */
  private check(certificate: Buffer | NodeX509Certificate): Known {
    let node: NodeX509Certificate;
    try {
      node = certificate instanceof NodeX509Certificate ? certificate : new NodeX509Certificate(certificate);
    } catch {
      throw invalid('cert.malformed', 'Malformed certificate');
    }
    if (!node.checkIssued(this.intermediate) || !safeVerify(node, this.intermediatePublicKey)) {
      throw denied('cert.untrusted', 'The certificate is not issued by the device CA');
    }
    const { deviceId, notBefore, notAfter } = readProfile(node);
    return {
      deviceId,
      serialHex: parseSerialHex(node.serialNumber, 'cert').hex,
      notBefore,
      notAfter,
    };
  }
}

/** Verifies a device certificate against an issuer, reusing a verifier per intermediate. */
export function verifyDeviceCertificate(
  certificate: DerInput,
  issuer: DeviceCertificateIssuer | DeviceCertificateVerifier,
  options?: VerifyDeviceCertificateOptions,
): VerifiedDeviceCertificate {
  const verifier = issuer instanceof DeviceCertificateVerifier ? issuer : cachedVerifier(issuer);
  return verifier.verify(certificate, options);
}

const verifierCache = new Map<string, DeviceCertificateVerifier>();
const VERIFIER_CACHE_SIZE = 16;

function cachedVerifier(issuer: DeviceCertificateIssuer): DeviceCertificateVerifier {
  const key = `${issuer.intermediateCertPem}\u0000${issuer.rootCertPem ?? ''}`;
  let verifier = verifierCache.get(key);
  if (!verifier) {
    verifier = DeviceCertificateVerifier.fromPem(issuer);
    if (verifierCache.size >= VERIFIER_CACHE_SIZE) verifierCache.delete(verifierCache.keys().next().value!);
    verifierCache.set(key, verifier);
  }
  return verifier;
}

function parseCaCertificate(pem: unknown, which: string): NodeX509Certificate {
  let cert: NodeX509Certificate;
  try {
    cert = new NodeX509Certificate(decodeDerInput(pem as DerInput, {
      pemLabels: ['CERTIFICATE'],
      errorPrefix: 'ca',
      what: `${which} certificate`,
      maxBytes: MAX_CERT_BYTES,
    }));
  } catch (e) {
    if (e instanceof DomainError) throw invalid('ca.bad-material', e.message);
    throw invalid('ca.bad-material', `The ${which} certificate cannot be parsed`);
  }
  if (!cert.ca) throw invalid('ca.bad-material', `The ${which} certificate is not a CA certificate`);
  return cert;
}

function safeVerify(cert: NodeX509Certificate, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

/**
 * The device profile, read from the fields OpenSSL decoded (Node's X509Certificate): one CN
 * holding a device id, the matching SAN URI, not a CA, clientAuth among the extended key usages.
 * Parsing the certificate again in JavaScript (@peculiar/x509, asn1js) cost about 20 times as much
 * and was most of the broker's time per connection in a reconnect storm.
 */
function readProfile(node: NodeX509Certificate): { deviceId: string; notBefore: Date; notAfter: Date } {
  const badProfile = (why: string) => denied('cert.bad-profile', `Not a device certificate: ${why}`);
  let commonNames: string[];
  let uris: string[];
  let isCa: boolean;
  let usages: string[];
  let notBefore: Date;
  let notAfter: Date;
  try {
    // One attribute a line (RFC 2253 escaping, control characters escaped): a value cannot start a line of its own.
    commonNames = node.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
    uris = altNames(node.subjectAltName).filter((n) => n.type === 'URI').map((n) => n.value);
    isCa = node.ca;
    usages = node.keyUsage ?? [];
    notBefore = new Date(node.validFrom);
    notAfter = new Date(node.validTo);
  } catch {
    throw invalid('cert.malformed', 'Malformed certificate extensions');
  }
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw invalid('cert.malformed', 'Malformed certificate validity');
  if (commonNames.length !== 1 || !isDeviceId(commonNames[0])) throw badProfile('subject must be one CN holding a device id');
  const deviceId = commonNames[0];
  if (!uris.includes(DEVICE_URN_PREFIX + deviceId)) throw badProfile('the SAN URI does not match the CN');
  if (isCa) throw badProfile('it is a CA certificate');
  if (!usages.includes(CLIENT_AUTH)) throw badProfile('clientAuth is not among its extended key usages');
  return { deviceId, notBefore, notAfter };
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * Node's rendering of subjectAltName: `TYPE:value` entries joined by ", ", a value that holds a
 * comma, quote, backslash or a non-printable character written as a JSON string
 * (`URI:"a, b"`). Read entry by entry, so a quoted value can never pass for an entry of its own.
 */
export function altNames(text: string | undefined): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) throw new Error('malformed subjectAltName');
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      if (k >= text.length) throw new Error('malformed subjectAltName');
      value = JSON.parse(text.slice(j, k + 1)) as string;
      j = k + 1;
    } else {
      const end = text.indexOf(', ', j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    out.push({ type, value });
    if (j < text.length) {
      if (!text.startsWith(', ', j)) throw new Error('malformed subjectAltName');
      j += 2;
    }
    i = j;
  }
  return out;
}
