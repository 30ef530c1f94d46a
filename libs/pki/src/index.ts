/**
 * @fleetguard/pki: device CA, certificate requests, device certificate profile, CRL, EST codec.
 *
 * This index exports the Nest-free core. Every error a caller can cause is a DomainError from
 * @fleetguard/common with a stable code:
 *   csr.malformed, csr.too-large, csr.bad-signature, csr.key-not-allowed,
 *   csr.signature-algorithm-not-allowed;
 *   ca.weak-passphrase, ca.bad-passphrase (401), ca.unencrypted-key, ca.bad-material, ca.bad-chain,
 *   ca.key-mismatch, ca.unsupported-key, ca.expired (409);
 *   pki.bad-device-id, pki.bad-crl-url, pki.bad-validity, pki.bad-name, pki.bad-key-policy,
 *   pki.bad-public-key, pki.bad-revocation-reason, pki.bad-server-name, cert.bad-public-key,
 *   cert.key-not-allowed;
 *   crl.bad-request, crl.bad-serial, crl.duplicate-serial, crl.bad-reason, crl.bad-number,
 *   crl.bad-date, crl.bad-dates;
 *   cert.malformed, cert.too-large, cert.untrusted (401), cert.expired (401),
 *   cert.not-yet-valid (401), cert.bad-profile (401), cert.bad-options;
 *   est.malformed, est.too-large, est.no-certificates, est.bad-certificate, est.bad-csrattrs,
 *   est.bad-line-length.
 */
export { parseCsr } from './core/csr.check';
export type { ParsedCsr, CsrCheckOptions } from './core/csr.check';
export { DEFAULT_KEY_POLICY } from './core/public-key.policy';
export type { DeviceKeyType, KeyPolicy } from './core/public-key.policy';

export { CertificateAuthority, writeDeviceCertificate } from './core/certificate-authority';
export type {
  CaMaterial,
  CreateCaOptions,
  IssueDeviceCertificateRequest,
  IssuedCertificate,
  BuiltCrl,
  DeviceIssue,
} from './core/certificate-authority';
export { CA_KEY_ALGORITHMS, KeyObjectSigner } from './core/x509.signer';
export type { CaKeyAlgorithm, CaSigner } from './core/x509.signer';

export { DEVICE_URN_PREFIX, assertDeviceId, deviceUrn } from './core/device-certificate.profile';
export { DeviceCertificateVerifier, verifyDeviceCertificate } from './core/device-certificate.check';
export type {
  DeviceCertificateIssuer,
  VerifiedDeviceCertificate,
  VerifyDeviceCertificateOptions,
} from './core/device-certificate.check';

export type { CrlContents, RevokedCertificateEntry } from './core/crl.builder';
export {
  REVOCATION_REASONS,
  REVOCATION_REASON_CODES,
  parseRevocationReason,
  revocationReasonCode,
} from './core/revocation-reason.codec';
export type { RevocationReason, RevocationReasonCode } from './core/revocation-reason.codec';
export { parseSerialHex } from './core/serial-number.generator';

export { EST_CONTENT_TYPES, buildCsrAttrs, estBase64Encode, estDecodeBody, toPkcs7CertsOnly } from './core/est.codec';
export type { CsrAttrsOptions } from './core/est.codec';

export { spkiSha256Hex } from './core/key-id.hash';
export { pemEncode } from './core/der-input.codec';
export type { DerInput } from './core/der-input.codec';
export { CsrCheckPool } from './core/csr-check.pool';
export { Pkcs11Token } from './core/pkcs11.signer';
