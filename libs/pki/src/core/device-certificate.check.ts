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
import { KeyObject, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { DomainError, invalid, isDeviceId } from '@fleetguard/common';
import { decodeDerInput, DerInput, toArrayBuffer } from './der-input.codec';
import { DEVICE_URN_PREFIX } from './device-certificate.profile';
import { parseSerialHex } from './serial-number.generator';
import { x509 } from './x509.platform';

export interface VerifiedDeviceCertificate {
  deviceId: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** True when `at` is past notAfter but within the grace period the caller allowed. */
  expired: boolean;
  /** DER SubjectPublicKeyInfo of the device key (to check signatures the device makes). */
  publicKeySpkiDer: Buffer;
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
const denied = (code: string, message: string) => new DomainError(code, message, 'unauthorized');

export class DeviceCertificateVerifier {
  private readonly intermediatePublicKey: KeyObject;

  private constructor(private readonly intermediate: NodeX509Certificate) {
    this.intermediatePublicKey = intermediate.publicKey;
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

  verify(certificate: DerInput, options: VerifyDeviceCertificateOptions = {}): VerifiedDeviceCertificate {
    const at = options.at ?? new Date();
    const graceSeconds = options.graceSeconds ?? 0;
    if (!(at instanceof Date) || Number.isNaN(at.getTime()) || !(graceSeconds >= 0)) {
      throw invalid('cert.bad-options', 'at must be a valid Date and graceSeconds a non-negative number');
    }
    const der = decodeDerInput(certificate, {
      pemLabels: ['CERTIFICATE'],
      errorPrefix: 'cert',
      what: 'certificate',
      maxBytes: MAX_CERT_BYTES,
    });
    let node: NodeX509Certificate;
    let cert: InstanceType<typeof x509.X509Certificate>;
    try {
      node = new NodeX509Certificate(der);
      cert = new x509.X509Certificate(toArrayBuffer(der));
    } catch {
      throw invalid('cert.malformed', 'Malformed certificate');
    }
    if (!node.checkIssued(this.intermediate) || !safeVerify(node, this.intermediatePublicKey)) {
      throw denied('cert.untrusted', 'The certificate is not issued by the device CA');
    }

    const deviceId = readDeviceId(cert);
    const { notBefore, notAfter } = cert;
    if (at.getTime() < notBefore.getTime()) throw denied('cert.not-yet-valid', `The certificate is not valid before ${notBefore.toISOString()}`);
    const expired = at.getTime() > notAfter.getTime();
    if (expired && at.getTime() > notAfter.getTime() + graceSeconds * 1000) {
      throw denied('cert.expired', `The certificate expired at ${notAfter.toISOString()}`);
    }
    return {
      deviceId,
      serialHex: parseSerialHex(cert.serialNumber, 'cert').hex,
      notBefore,
      notAfter,
      expired,
      publicKeySpkiDer: Buffer.from(cert.publicKey.rawData),
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

function readDeviceId(cert: InstanceType<typeof x509.X509Certificate>): string {
  const badProfile = (why: string) => denied('cert.bad-profile', `Not a device certificate: ${why}`);
  let commonNames: string[];
  let uris: string[];
  let isCa: boolean;
  let usages: string[];
  try {
    commonNames = cert.subjectName.getField('CN');
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    uris = (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
    isCa = cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false;
    usages = (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  } catch {
    throw invalid('cert.malformed', 'Malformed certificate extensions');
  }
  if (commonNames.length !== 1 || !isDeviceId(commonNames[0])) throw badProfile('subject must be one CN holding a device id');
  const deviceId = commonNames[0];
  if (!uris.includes(DEVICE_URN_PREFIX + deviceId)) throw badProfile('the SAN URI does not match the CN');
  if (isCa) throw badProfile('it is a CA certificate');
  if (!usages.includes(x509.ExtendedKeyUsage.clientAuth)) throw badProfile('clientAuth is not among its extended key usages');
  return deviceId;
}
