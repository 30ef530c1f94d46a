/**
 * The content of a full X.509 v2 CRL (RFC 5280 5): issuer, thisUpdate, nextUpdate, the revoked
 * serials with their revocation date and reasonCode entry extension, and the CRL extensions
 * authorityKeyIdentifier and cRLNumber. Signing happens in the CA (x509.signer.ts).
 *
 * Policy choices: the `unspecified` reason is written as an entry without a reasonCode (RFC 5280
 * 5.3.1 says it SHOULD be omitted); `removeFromCRL` belongs to delta CRLs only and is refused.
 */
import { AsnIntegerBigIntConverter } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  CRLReason,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  KeyIdentifier,
  Name,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
} from '@peculiar/asn1-x509';
import { invalid } from '@fleetguard/common';
import { extension, toWholeSeconds } from './certificate-fields.builder';
import { toArrayBuffer } from './der-input.codec';
import { parseRevocationReason, RevocationReason, revocationReasonCode } from './revocation-reason.codec';
import { parseSerialHex } from './serial-number.generator';

export interface RevokedCertificateEntry {
  /** Serial as hex (any case, ':' separators allowed), as issuance reported it. */
  serialHex: string;
  revokedAt: Date;
  /** RFC 5280 reason by name or code; default `unspecified`. */
  reason?: RevocationReason | number | string;
}

export interface CrlContents {
  revoked: readonly RevokedCertificateEntry[];
  /** Monotonically increasing CRL number (RFC 5280 5.2.3), at most 20 octets. */
  crlNumber: bigint | number;
  /** Default: now. */
  thisUpdate?: Date;
  nextUpdate: Date;
}

export interface CrlIssuer {
  name: Name;
  keyIdentifier: Buffer;
}

export interface CrlTbs {
  tbs: TBSCertList;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
}

const MAX_CRL_NUMBER = (1n << 159n) - 1n; // 20 octets, positive

export function buildCrlTbs(contents: CrlContents, issuer: CrlIssuer, now: number = Date.now()): CrlTbs {
  if (!contents || !Array.isArray(contents.revoked)) throw invalid('crl.bad-request', 'revoked must be an array');
  const crlNumber = parseCrlNumber(contents.crlNumber);
  const thisUpdate = toWholeSeconds(contents.thisUpdate === undefined ? now : assertDate(contents.thisUpdate, 'thisUpdate'));
  const nextUpdate = toWholeSeconds(assertDate(contents.nextUpdate, 'nextUpdate'));
  if (nextUpdate.getTime() <= thisUpdate.getTime()) {
    throw invalid('crl.bad-dates', 'nextUpdate must be at least one second after thisUpdate');
  }

  const seen = new Set<string>();
  const revoked = contents.revoked.map((entry, index) => {
    if (!entry || typeof entry !== 'object') throw invalid('crl.bad-request', `revoked[${index}] must be an object`);
    const serial = parseSerialHex(entry.serialHex, 'crl');
    if (seen.has(serial.hex)) throw invalid('crl.duplicate-serial', `Serial ${serial.hex} is listed twice`);
    seen.add(serial.hex);
    const reason = entry.reason === undefined ? 'unspecified' : parseRevocationReason(entry.reason);
    if (reason === 'removeFromCRL') throw invalid('crl.bad-reason', 'removeFromCRL is only valid in delta CRLs');
    return new RevokedCertificate({
      userCertificate: toArrayBuffer(serial.integer),
      revocationDate: new Time(toWholeSeconds(assertDate(entry.revokedAt, `revoked[${index}].revokedAt`))),
      crlEntryExtensions:
        reason === 'unspecified' ? undefined : [extension(id_ce_cRLReasons, false, new CRLReason(revocationReasonCode(reason)))],
    });
  });

  const tbs = new TBSCertList({
    version: Version.v2,
    issuer: issuer.name,
    thisUpdate: new Time(thisUpdate),
    nextUpdate: new Time(nextUpdate),
    revokedCertificates: revoked.length > 0 ? revoked : undefined,
    crlExtensions: [
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(issuer.keyIdentifier)) }),
      ),
      extension(id_ce_cRLNumber, false, AsnIntegerBigIntConverter.toASN(crlNumber)),
    ],
  });
  return { tbs, thisUpdate, nextUpdate, crlNumber };
}

function parseCrlNumber(value: unknown): bigint {
  const n =
    typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (n === undefined || n < 0n || n > MAX_CRL_NUMBER) {
    throw invalid('crl.bad-number', 'crlNumber must be a non-negative integer of at most 20 octets');
  }
  return n;
}

function assertDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw invalid('crl.bad-date', `${field} must be a valid Date`);
  return value;
}
