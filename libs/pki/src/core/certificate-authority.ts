/**
 * The two-tier device CA (SPEC "PKI"): an offline-style root that signs only the intermediate,
 * and an issuing intermediate that signs device certificates and the CRL.
 *
 * `create` makes new material to persist (certificates in PEM, keys as encrypted PKCS#8 PEM);
 * `load` decrypts the intermediate key once, checks that the material hangs together (chain,
 * key matches certificate) and keeps the key for the life of the instance. The root key is not
 * needed at run time and stays encrypted. `fromSigner` accepts any `CaSigner` (a PKCS#11 token).
 *
 * Error codes: `ca.weak-passphrase`, `ca.bad-passphrase`, `ca.unencrypted-key`, `ca.bad-material`,
 * `ca.bad-chain`, `ca.key-mismatch`, `ca.unsupported-key`, `ca.expired`, plus those of the
 * profiles (`pki.bad-device-id`, `pki.bad-crl-url`, `pki.bad-validity`, `pki.bad-server-name`,
 * `cert.bad-public-key`) and of the CRL (`crl.*`, `pki.bad-revocation-reason`).
 */
import { createPublicKey, KeyObject, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_subjectKeyIdentifier, Name, SubjectKeyIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { DomainError, invalid } from '@fleetguard/common';
import { intermediateCaTbs, rootCaTbs } from './ca-certificate.profile';
import { assertNewPassphrase, decryptPrivateKey, encryptPrivateKey, generateCaKey } from './ca-key.codec';
import { assertNameValue, DAY_MS, distinguishedName, keyIdentifierOf, toWholeSeconds } from './certificate-fields.builder';
import { buildCrlTbs, CrlContents } from './crl.builder';
import { decodeDerInput, DerInput, pemEncode } from './der-input.codec';
import {
  DeviceCertificateVerifier,
  VerifiedDeviceCertificate,
  VerifyDeviceCertificateOptions,
} from './device-certificate.check';
import { assertCrlUrl, assertDeviceId, DeviceCertificateProfile } from './device-certificate.profile';
import { DeviceCertificateTemplate, DeviceTemplateParts, deviceCertificateDer, deviceTbsDer } from './device-certificate.template';
import { verifiedPublicKeyOf, verifiedSubjectPublicKeyOf } from './csr.check';
import { classifyPublicKey } from './public-key.policy';
import { randomSerialNumber, SerialNumber } from './serial-number.generator';
import { buildServerCertificateTbs } from './server-certificate.profile';
import {
  CaKeyAlgorithm,
  CaSigner,
  KeyObjectSigner,
  signCertificate,
  signCertList,
  signatureAlgorithmFor,
  signerMatchesPublicKey,
} from './x509.signer';

/** What to persist. Keys are encrypted PKCS#8 PEM. */
export interface CaMaterial {
  rootCertPem: string;
  rootKeyPem: string;
  intermediateCertPem: string;
  intermediateKeyPem: string;
}

export interface CreateCaOptions {
  /** Encrypts both keys; at least 8 characters. */
  passphrase: string;
  rootCommonName?: string;
  intermediateCommonName?: string;
  /** organizationName in both CA subjects; default "Fleetguard". */
  organization?: string;
  /** Default P-256. */
  keyAlgorithm?: CaKeyAlgorithm;
  /** Default 7305 (20 years). */
  rootValidityDays?: number;
  /** Default 3652 (10 years); capped at the root's notAfter. */
  intermediateValidityDays?: number;
  /** Issuance time; default now. */
  now?: Date;
}

export interface IssueDeviceCertificateRequest {
  /** The parsed request (parseCsr); only its public key is used. */
  csr: { publicKeySpkiDer: Buffer };
  deviceId: string;
  validityDays: number;
  crlDistributionUrl: string;
  /** OCSP responder URL for the authorityInfoAccess extension (absent: no AIA). */
  ocspUrl?: string;
  /**
   * Start of validity. Default: now minus 5 minutes (devices' clocks drift), with notAfter =
   * now + validityDays. When given, notAfter = notBefore + validityDays.
   */
  notBefore?: Date;
}

export interface IssuedCertificate {
  certificatePem: string;
  certificateDer: Buffer;
  /** 32 lowercase hex digits. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export interface BuiltCrl {
  der: Buffer;
  pem: string;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
}

const DEFAULTS = {
  rootCommonName: 'Fleetguard Device Root CA',
  intermediateCommonName: 'Fleetguard Device Issuing CA',
  organization: 'Fleetguard',
  keyAlgorithm: 'P-256' as CaKeyAlgorithm,
  rootValidityDays: 7305,
  intermediateValidityDays: 3652,
};
/** CA certificates start an hour early, device certificates five minutes early (clock skew). */
const CA_BACKDATE_MS = 60 * 60 * 1000;
const DEVICE_BACKDATE_MS = 5 * 60 * 1000;
const MAX_DEVICE_VALIDITY_DAYS = 3652;
/** Keys issuance accepts: whatever parseCsr can be configured to accept. */
const ISSUABLE_KEYS = { allowP521: true, minRsaBits: 2048, maxRsaBits: 16384 };

export class CertificateAuthority {
  /** Intermediate then root, PEM: what a device needs to build its chain. */
  readonly chainPem: string;
  readonly keyAlgorithm: CaKeyAlgorithm;
  /** The intermediate's validity end; device certificates never outlive it. */
  readonly intermediateNotAfter: Date;
  readonly verifier: DeviceCertificateVerifier;

  private readonly profile: DeviceCertificateProfile;
  private readonly template: DeviceCertificateTemplate;
  private readonly identity: { name: Name; keyIdentifier: Buffer; publicKey: SubjectPublicKeyInfo };
  /** The last URLs deviceIssue found valid. */
  private checkedUrls?: { crl: string; ocsp: string | undefined };

  private constructor(
    readonly rootCertPem: string,
    readonly intermediateCertPem: string,
    private readonly signer: CaSigner,
    private readonly intermediateName: Name,
    private readonly intermediateKeyId: Buffer,
    intermediateNotAfter: Date,
    intermediatePublicKey: SubjectPublicKeyInfo,
  ) {
    this.identity = { name: intermediateName, keyIdentifier: intermediateKeyId, publicKey: intermediatePublicKey };
    this.chainPem = intermediateCertPem + rootCertPem;
    this.keyAlgorithm = signer.keyAlgorithm;
    this.intermediateNotAfter = intermediateNotAfter;
    this.profile = new DeviceCertificateProfile(intermediateName, intermediateKeyId);
    this.template = new DeviceCertificateTemplate(this.profile, intermediateName, signatureAlgorithmFor(signer.keyAlgorithm));
    this.verifier = DeviceCertificateVerifier.fromPem({ intermediateCertPem, rootCertPem });
  }

  /** Generates a root and an intermediate CA and returns the material to persist. */
  static async create(options: CreateCaOptions): Promise<CaMaterial> {
    const passphrase = assertNewPassphrase(options?.passphrase);
    const o = { ...DEFAULTS, ...withoutUndefined(options) };
    const organization = assertNameValue(o.organization, 'organization');
    const rootName = distinguishedName(assertNameValue(o.rootCommonName, 'rootCommonName'), organization);
    const intermediateName = distinguishedName(assertNameValue(o.intermediateCommonName, 'intermediateCommonName'), organization);
    const now = o.now instanceof Date && !Number.isNaN(o.now.getTime()) ? o.now.getTime() : Date.now();
    const notBefore = toWholeSeconds(now - CA_BACKDATE_MS);
    const rootNotAfter = toWholeSeconds(now + assertDays(o.rootValidityDays, 36525, 'rootValidityDays') * DAY_MS);
    const intermediateNotAfter = toWholeSeconds(
      Math.min(now + assertDays(o.intermediateValidityDays, 36525, 'intermediateValidityDays') * DAY_MS, rootNotAfter.getTime()),
    );

    const [rootKey, intermediateKey] = await Promise.all([generateCaKey(o.keyAlgorithm), generateCaKey(o.keyAlgorithm)]);
    const rootPublic = spkiOf(createPublicKey(rootKey).export({ type: 'spki', format: 'der' }));
    const intermediatePublic = spkiOf(createPublicKey(intermediateKey).export({ type: 'spki', format: 'der' }));
    const rootSigner = new KeyObjectSigner(rootKey);

    const rootDer = await signCertificate(
      rootCaTbs({ subject: rootName, publicKey: rootPublic, serial: randomSerialNumber().bytes, notBefore, notAfter: rootNotAfter }),
      rootSigner,
    );
    const intermediateDer = await signCertificate(
      intermediateCaTbs({
        subject: intermediateName,
        issuer: rootName,
        issuerKeyIdentifier: keyIdentifierOf(rootPublic),
        publicKey: intermediatePublic,
        serial: randomSerialNumber().bytes,
        notBefore,
        notAfter: intermediateNotAfter,
      }),
      rootSigner,
    );
    return {
      rootCertPem: pemEncode(rootDer, 'CERTIFICATE'),
      rootKeyPem: encryptPrivateKey(rootKey, passphrase),
      intermediateCertPem: pemEncode(intermediateDer, 'CERTIFICATE'),
      intermediateKeyPem: encryptPrivateKey(intermediateKey, passphrase),
    };
  }

  /** Decrypts the intermediate key and checks the material. Wrong passphrase: `ca.bad-passphrase`. */
  static async load(material: CaMaterial, passphrase: string): Promise<CertificateAuthority> {
    if (!material || typeof material !== 'object') throw invalid('ca.bad-material', 'CA material is missing');
    const key = decryptPrivateKey(material.intermediateKeyPem, passphrase);
    return CertificateAuthority.fromSigner(material, new KeyObjectSigner(key));
  }

  /** A CA whose intermediate key is behind `signer` (e.g. a PKCS#11 token). */
  static async fromSigner(
    certificates: Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>,
    signer: CaSigner,
  ): Promise<CertificateAuthority> {
    // Parses both certificates and checks CA flags and the intermediate-to-root signature.
    DeviceCertificateVerifier.fromPem(certificates);
    const rootDer = caCertificateDer(certificates.rootCertPem, 'root');
    const intermediateDer = caCertificateDer(certificates.intermediateCertPem, 'intermediate');
    const intermediate = new NodeX509Certificate(intermediateDer);
    if (!(await signerMatchesPublicKey(signer, intermediate.publicKey))) {
      throw invalid('ca.key-mismatch', 'The CA key does not belong to the intermediate certificate');
    }
    const tbs = AsnConvert.parse(intermediateDer, Certificate).tbsCertificate;
    const skiExtension = tbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
    const keyId = skiExtension
      ? Buffer.from(AsnConvert.parse(skiExtension.extnValue, SubjectKeyIdentifier).buffer)
      : keyIdentifierOf(tbs.subjectPublicKeyInfo);
    return new CertificateAuthority(
      pemEncode(rootDer, 'CERTIFICATE'),
      pemEncode(intermediateDer, 'CERTIFICATE'),
      signer,
      tbs.subject,
      keyId,
      tbs.validity.notAfter.getTime(),
      tbs.subjectPublicKeyInfo,
    );
  }

  /**
   * The same intermediate (subject, key, validity) certified again by the root with `rootCrlUrl`
   * as its CRL distribution point, so `openssl verify -crl_check_all` finds the root's CRL.
   * Certificates the intermediate issued before stay valid: name, key and key identifier are kept.
   */
  static async recertifyIntermediate(material: CaMaterial, passphrase: string, rootCrlUrl: string): Promise<CaMaterial> {
    const rootSigner = new KeyObjectSigner(decryptPrivateKey(material.rootKeyPem, passphrase));
    return { ...material, ...(await CertificateAuthority.recertifyIntermediateWith(material, rootSigner, rootCrlUrl)) };
  }

  /** recertifyIntermediate with the root key behind a signer (a PKCS#11 token). */
  static async recertifyIntermediateWith(
    certificates: Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>,
    rootSigner: CaSigner,
    rootCrlUrl: string,
  ): Promise<Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>> {
    const url = assertCrlUrl(rootCrlUrl);
    const root = AsnConvert.parse(caCertificateDer(certificates.rootCertPem, 'root'), Certificate).tbsCertificate;
    const old = AsnConvert.parse(caCertificateDer(certificates.intermediateCertPem, 'intermediate'), Certificate).tbsCertificate;
    const der = await signCertificate(
      intermediateCaTbs({
        subject: old.subject,
        issuer: root.subject,
        issuerKeyIdentifier: keyIdentifierOf(root.subjectPublicKeyInfo),
        publicKey: old.subjectPublicKeyInfo,
        serial: randomSerialNumber().bytes,
        notBefore: old.validity.notBefore.getTime(),
        notAfter: old.validity.notAfter.getTime(),
        crlDistributionUrl: url,
      }),
      rootSigner,
    );
    return { rootCertPem: certificates.rootCertPem, intermediateCertPem: pemEncode(der, 'CERTIFICATE') };
  }

  /** A CRL of the root (revoked CA certificates), signed with the root key decrypted for the occasion. */
  static async buildRootCrl(material: Pick<CaMaterial, 'rootCertPem' | 'rootKeyPem'>, passphrase: string, contents: CrlContents): Promise<BuiltCrl> {
    return CertificateAuthority.buildRootCrlWith(material.rootCertPem, new KeyObjectSigner(decryptPrivateKey(material.rootKeyPem, passphrase)), contents);
  }

  /** buildRootCrl with the root key behind a signer (a PKCS#11 token). */
  static async buildRootCrlWith(rootCertPem: string, rootSigner: CaSigner, contents: CrlContents): Promise<BuiltCrl> {
    const root = AsnConvert.parse(caCertificateDer(rootCertPem, 'root'), Certificate).tbsCertificate;
    const { tbs, thisUpdate, nextUpdate, crlNumber } = buildCrlTbs(contents, { name: root.subject, keyIdentifier: keyIdentifierOf(root.subjectPublicKeyInfo) });
    const der = await signCertList(tbs, rootSigner);
    return { der, pem: pemEncode(der, 'X509 CRL'), thisUpdate, nextUpdate, crlNumber };
  }

  /**
   * The root and intermediate certificates for keys held elsewhere (a PKCS#11 token): the root
   * self-signed through `rootSigner`, the intermediate (key `intermediateSpkiDer`) signed by it.
   */
  static async createCertificatesWith(
    rootSigner: CaSigner,
    rootSpkiDer: Buffer,
    intermediateSpkiDer: Buffer,
    options: Omit<CreateCaOptions, 'passphrase' | 'keyAlgorithm'> = {},
  ): Promise<Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>> {
    const o = { ...DEFAULTS, ...withoutUndefined(options) };
    const organization = assertNameValue(o.organization, 'organization');
    const rootName = distinguishedName(assertNameValue(o.rootCommonName, 'rootCommonName'), organization);
    const intermediateName = distinguishedName(assertNameValue(o.intermediateCommonName, 'intermediateCommonName'), organization);
    const now = o.now instanceof Date && !Number.isNaN(o.now.getTime()) ? o.now.getTime() : Date.now();
    const notBefore = toWholeSeconds(now - CA_BACKDATE_MS);
    const rootNotAfter = toWholeSeconds(now + assertDays(o.rootValidityDays, 36525, 'rootValidityDays') * DAY_MS);
    const intermediateNotAfter = toWholeSeconds(Math.min(now + assertDays(o.intermediateValidityDays, 36525, 'intermediateValidityDays') * DAY_MS, rootNotAfter.getTime()));
    const rootPublic = spkiOf(rootSpkiDer);
    const rootDer = await signCertificate(rootCaTbs({ subject: rootName, publicKey: rootPublic, serial: randomSerialNumber().bytes, notBefore, notAfter: rootNotAfter }), rootSigner);
    const intermediateDer = await signCertificate(
      intermediateCaTbs({
        subject: intermediateName,
        issuer: rootName,
        issuerKeyIdentifier: keyIdentifierOf(rootPublic),
        publicKey: spkiOf(intermediateSpkiDer),
        serial: randomSerialNumber().bytes,
        notBefore,
        notAfter: intermediateNotAfter,
      }),
      rootSigner,
    );
    return { rootCertPem: pemEncode(rootDer, 'CERTIFICATE'), intermediateCertPem: pemEncode(intermediateDer, 'CERTIFICATE') };
  }

  /**
   * A further issuing CA under the same root (rollover): its own subject (`commonName`), key
   * (`intermediateSpkiDer`) and serial, the root CRL as its distribution point. The intermediates
   * issued before stay valid; both chain to the one root, so a relying party trusting the root
   * accepts device certificates of either until they expire.
   */
  static async createIntermediateWith(
    rootCertPem: string,
    rootSigner: CaSigner,
    intermediateSpkiDer: Buffer,
    options: { commonName: string; rootCrlUrl?: string; validityDays?: number; now?: Date },
  ): Promise<string> {
    const rootDer = caCertificateDer(rootCertPem, 'root');
    const root = AsnConvert.parse(rootDer, Certificate).tbsCertificate;
    const rootPublic = root.subjectPublicKeyInfo;
    const rootNode = new NodeX509Certificate(rootDer);
    if (!(await signerMatchesPublicKey(rootSigner, rootNode.publicKey))) {
      throw invalid('ca.key-mismatch', 'The root key does not belong to the root certificate');
    }
    const orgName = /^O=(.+)$/m.exec(rootNode.subject)?.[1] ?? DEFAULTS.organization;
    const subject = distinguishedName(assertNameValue(options.commonName, 'commonName'), orgName);
    const now = options.now?.getTime() ?? Date.now();
    const rootNotAfter = root.validity.notAfter.getTime().getTime();
    if (now >= rootNotAfter) throw new DomainError('ca.expired', 'The root CA certificate has expired', 'conflict');
    const days = assertDays(options.validityDays ?? DEFAULTS.intermediateValidityDays, 36525, 'validityDays');
    const der = await signCertificate(
      intermediateCaTbs({
        subject,
        issuer: root.subject,
        issuerKeyIdentifier: keyIdentifierOf(rootPublic),
        publicKey: spkiOf(intermediateSpkiDer),
        serial: randomSerialNumber().bytes,
        notBefore: toWholeSeconds(now - CA_BACKDATE_MS),
        notAfter: toWholeSeconds(Math.min(now + days * DAY_MS, rootNotAfter)),
        crlDistributionUrl: options.rootCrlUrl === undefined ? undefined : assertCrlUrl(options.rootCrlUrl),
      }),
      rootSigner,
    );
    return pemEncode(der, 'CERTIFICATE');
  }

  /** Issues a device certificate following the device profile (device-certificate.profile.ts). */
  async issueDeviceCertificate(request: IssueDeviceCertificateRequest): Promise<IssuedCertificate> {
    const issue = this.deviceIssue(request);
    const { der, pem } = await writeDeviceCertificate(issue, request.csr, this.signer);
    return { certificatePem: pem, certificateDer: der, serialHex: issue.serial.hex, notBefore: issue.notBefore, notAfter: issue.notAfter };
  }

  /**
   * Everything of one device certificate but its key, checked: the fields (a fresh serial, the
   * validity) and the template's constant DER. writeDeviceCertificate makes the certificate from
   * it, here or on a worker thread holding `workerKey` (csr-check.pool.ts).
   */
  deviceIssue(request: Omit<IssueDeviceCertificateRequest, 'csr'>): DeviceIssue {
    const deviceId = assertDeviceId(request?.deviceId);
    const { crlDistributionUrl, ocspUrl } = request;
    // The URLs are the same for every certificate of a CA: parsed again only when they change.
    if (this.checkedUrls?.crl !== crlDistributionUrl || this.checkedUrls.ocsp !== ocspUrl) {
      assertCrlUrl(crlDistributionUrl);
      if (ocspUrl !== undefined) assertCrlUrl(ocspUrl);
      this.checkedUrls = { crl: crlDistributionUrl, ocsp: ocspUrl };
    }
    const validityMs = assertDays(request.validityDays, MAX_DEVICE_VALIDITY_DAYS, 'validityDays') * DAY_MS;

    const now = Date.now();
    let start: number;
    let notBefore: Date;
    if (request.notBefore === undefined) {
      start = now;
      notBefore = toWholeSeconds(now - DEVICE_BACKDATE_MS);
    } else {
      if (!(request.notBefore instanceof Date) || Number.isNaN(request.notBefore.getTime())) {
        throw invalid('pki.bad-validity', 'notBefore must be a valid Date');
      }
      start = request.notBefore.getTime();
      notBefore = toWholeSeconds(start);
    }
    const notAfter = toWholeSeconds(Math.min(start + validityMs, this.intermediateNotAfter.getTime()));
    if (now >= this.intermediateNotAfter.getTime()) {
      throw new DomainError('ca.expired', 'The issuing CA certificate has expired', 'conflict');
    }
    if (notAfter.getTime() <= notBefore.getTime()) {
      throw invalid('pki.bad-validity', 'The certificate would end before it starts');
    }
    return { deviceId, serial: randomSerialNumber(), notBefore, notAfter, parts: this.template.parts(crlDistributionUrl, ocspUrl) };
  }

  /** The issuing key when worker threads may sign with it (a key in memory; a token's key stays with the token: undefined). */
  get workerKey(): KeyObject | undefined {
    return this.signer instanceof KeyObjectSigner ? this.signer.privateKey : undefined;
  }

  /**
   * A TLS server certificate for the service's own device-facing listeners (server-certificate.profile.ts),
   * so devices reach the device API and the broker with the one chain they trust.
   */
  async issueServerCertificate(request: {
    publicKeySpkiDer: Buffer;
    commonName: string;
    dnsNames: readonly string[];
    ipAddresses: readonly string[];
    validityDays: number;
  }): Promise<IssuedCertificate> {
    const validityMs = assertDays(request.validityDays, 825, 'validityDays') * DAY_MS;
    const publicKey = devicePublicKey({ publicKeySpkiDer: request.publicKeySpkiDer });
    const now = Date.now();
    const notBefore = toWholeSeconds(now - DEVICE_BACKDATE_MS);
    const notAfter = toWholeSeconds(Math.min(now + validityMs, this.intermediateNotAfter.getTime()));
    const serial = randomSerialNumber();
    const der = await signCertificate(
      buildServerCertificateTbs(this.intermediateName, this.intermediateKeyId, {
        commonName: assertNameValue(request.commonName, 'commonName'),
        dnsNames: request.dnsNames,
        ipAddresses: request.ipAddresses,
        publicKey,
        serial: serial.bytes,
        notBefore,
        notAfter,
      }),
      this.signer,
    );
    return { certificatePem: pemEncode(der, 'CERTIFICATE'), certificateDer: der, serialHex: serial.hex, notBefore, notAfter };
  }

  /** A full CRL signed by the intermediate (see crl.builder.ts for its content). */
  async buildCrl(contents: CrlContents): Promise<BuiltCrl> {
    const { tbs, thisUpdate, nextUpdate, crlNumber } = buildCrlTbs(contents, {
      name: this.intermediateName,
      keyIdentifier: this.intermediateKeyId,
    });
    const der = await signCertList(tbs, this.signer);
    return { der, pem: pemEncode(der, 'X509 CRL'), thisUpdate, nextUpdate, crlNumber };
  }

  /** The signer of the intermediate key: the OCSP responder signs with it too. */
  get issuingSigner(): CaSigner {
    return this.signer;
  }

  /** The intermediate's subject and key, for OCSP CertID matching and the responder id. */
  get issuingIdentity(): { name: Name; keyIdentifier: Buffer; publicKey: SubjectPublicKeyInfo } {
    return this.identity;
  }

  /** A device certificate this CA issued, as issued: a device presenting it is answered from memory (DeviceCertificateVerifier.remember). */
  rememberIssued(der: Buffer, issued: { deviceId: string; serialHex: string; notBefore: Date; notAfter: Date }): boolean {
    return this.verifier.remember(der, issued);
  }

  /** What `previous`, the same issuing key and name under an earlier certificate, knows of the certificates it issued. */
  adoptKnownCertificates(previous: CertificateAuthority): void {
    this.verifier.adoptKnown(previous.verifier);
  }

  /** Device certificates answered from memory (checked, or remembered as issued). */
  get knownCertificates(): number {
    return this.verifier.remembered;
  }

  /** Checks a certificate a device presents (see device-certificate.check.ts). */
  verifyDeviceCertificate(certificate: DerInput | NodeX509Certificate, options?: VerifyDeviceCertificateOptions): VerifiedDeviceCertificate {
    return this.verifier.verify(certificate, options);
  }
}

function caCertificateDer(pem: string, which: string): Buffer {
  return decodeDerInput(pem, { pemLabels: ['CERTIFICATE'], errorPrefix: 'ca', what: `${which} certificate`, maxBytes: 16 * 1024 });
}

function spkiOf(der: Buffer): SubjectPublicKeyInfo {
  return AsnConvert.parse(der, SubjectPublicKeyInfo);
}

/** The device key from the request, checked again here: issuance never certifies a non-key. */
function devicePublicKey(csr: IssueDeviceCertificateRequest['csr']): SubjectPublicKeyInfo {
  const der = csr?.publicKeySpkiDer;
  if (!(der instanceof Uint8Array)) throw invalid('cert.bad-public-key', 'The request carries no public key');
  const verified = verifiedPublicKeyOf(csr);
  if (verified) return verified;
  classifyPublicKey(Buffer.from(der), ISSUABLE_KEYS, 'cert');
  try {
    return spkiOf(Buffer.from(der));
  } catch {
    throw invalid('cert.malformed', 'The public key cannot be decoded');
  }
}

/** The checked device key and its DER: the bytes parseCsr verified, or the key re-encoded. */
function devicePublicKeyWithDer(csr: IssueDeviceCertificateRequest['csr']): { subjectPublicKey: Uint8Array; der: Buffer } {
  const verified = verifiedSubjectPublicKeyOf(csr);
  if (verified) return { subjectPublicKey: verified, der: Buffer.from(csr.publicKeySpkiDer) };
  const spki = devicePublicKey(csr);
  return { subjectPublicKey: new Uint8Array(spki.subjectPublicKey), der: Buffer.from(AsnConvert.serialize(spki)) };
}

/** One device certificate's checked fields and its CA's template DER (CertificateAuthority.deviceIssue). */
export interface DeviceIssue {
  deviceId: string;
  serial: SerialNumber;
  notBefore: Date;
  notAfter: Date;
  parts: DeviceTemplateParts;
}

/**
 * The device certificate of `issue` for the request's key, signed by `signer`: the same bytes as
 * signCertificate(profile.build(...)) (device-certificate.template.spec.ts).
 */
export async function writeDeviceCertificate(issue: Omit<DeviceIssue, 'serial'> & { serial: { bytes: Buffer } }, csr: IssueDeviceCertificateRequest['csr'], signer: CaSigner): Promise<{ der: Buffer; pem: string }> {
  const { subjectPublicKey, der: publicKeySpkiDer } = devicePublicKeyWithDer(csr);
  const tbs = deviceTbsDer(issue.parts, { deviceId: issue.deviceId, publicKeySpkiDer, subjectPublicKey, serial: issue.serial.bytes, notBefore: issue.notBefore, notAfter: issue.notAfter });
  const der = deviceCertificateDer(issue.parts.signatureAlgorithmDer, tbs, await signer.sign(tbs));
  return { der, pem: pemEncode(der, 'CERTIFICATE') };
}

function assertDays(value: unknown, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw invalid('pki.bad-validity', `${field} must be a number of days above 0 and at most ${max}`);
  }
  return value;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
