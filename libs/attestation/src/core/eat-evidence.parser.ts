import { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { DomainError, decodeUeidText, invalid } from '@fleetguard/common';
import { normalizeSha256 } from './digest';
import { BootEvent, MAX_BOOT_EVENTS, MAX_PCR_INDEX, PcrValues } from './event-log.replay';
import { decodeNonce } from './nonce';
import { jwsAlgorithmsFor } from './public-key';
import { compactJwsHeader, JwsVerification, verifyCompactJws } from './jws.compact';
import type { JwsCrypto } from './jws.pool';
import { MAX_TPMS_ATTEST_BYTES, MAX_TPMT_SIGNATURE_BYTES } from './tpm-attest.parser';

/**
 * Evidence with a TCG boot log and an IMA list is larger than the Fleetguard event list alone: a
 * real log is 15 to 50 KB (120 to 260 KB are seen on servers with large db/dbx). Over MQTT the
 * broker's payload limit (FLEETGUARD_MQTT_MAX_PAYLOAD) applies first.
 */
export const MAX_EVIDENCE_CHARS = 512 * 1024;
/** Largest TCG event log inside evidence (the parser itself accepts up to MAX_TCG_LOG_BYTES). */
export const MAX_EVIDENCE_TCG_LOG_BYTES = 256 * 1024;
/** Largest IMA measurement list text inside evidence. */
export const MAX_EVIDENCE_IMA_CHARS = 256 * 1024;

export interface FirmwareClaims {
  productId: string;
  version: string;
  /** SHA-256 of the image, lowercase hex (the evidence may write it `sha256:<hex>`). */
  digest: string;
  securityCounter: number;
}

export interface BootClaims {
  alg: 'sha256';
  events: BootEvent[];
  pcrs: PcrValues;
}

/** IMA runtime measurements (text of ascii_runtime_measurements), possibly only the new entries. */
export interface ImaClaims {
  log: string;
  /** Index of the first entry in `log` in the device's whole list (0 = from boot). */
  offset: number;
}

export interface TpmClaims {
  /** Marshalled TPMS_ATTEST. */
  quote: Buffer;
  /** Marshalled TPMT_SIGNATURE. */
  signature: Buffer;
}

/** The claims of a Fleetguard EAT (RFC 9711), validated. Other top-level claims are ignored. */
export interface EvidenceClaims {
  eatNonce: string;
  /**
   * The `ueid` claim as sent: the device id (Fleetguard's first form, not an RFC 9711 UEID), or
   * an RFC 9711 UEID as base64url (see `ueidBytes`).
   */
  ueid: string;
  /** The `ueid` decoded, when its text has RFC 9711's syntax (base64url of 7..33 bytes). */
  ueidBytes?: Buffer;
  /** RFC 9711 `sueids` (semi-permanent UEIDs: label → UEID), decoded. */
  sueids?: Record<string, Buffer>;
  iat: number;
  fw: FirmwareClaims;
  boot: BootClaims;
  tpm?: TpmClaims;
  /** `boot.tcgEventLog`, decoded: a TCG PC Client binary event log (requires `tpm`). */
  tcgEventLog?: Buffer;
  ima?: ImaClaims;
}

const PRINTABLE = /^[\x20-\x7e]+$/;
const MAX_SUEIDS = 16;
const TOKEN = /^[\x21-\x7e]+$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const PCR_KEY = /^(?:[0-9]|1[0-9]|2[0-3])$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const hex64 = z.string().regex(HEX64, 'must be 64 hex characters (SHA-256)');
const base64Bytes = (max: number) =>
  z
    .string()
    .max(Math.ceil(max / 3) * 4, `must decode to at most ${max} bytes`)
    .regex(BASE64, 'must be base64')
    .refine((s) => s.length > 0, 'must not be empty');

const eventSchema = z.strictObject({
  pcr: z.int().min(0).max(MAX_PCR_INDEX),
  component: z.string().min(1).max(128).regex(PRINTABLE, 'must be printable ASCII'),
  digest: hex64,
});

const claimsSchema = z.looseObject({
  eat_nonce: z.string().refine((s) => {
    try {
      decodeNonce(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be base64url of 16 to 64 bytes'),
  ueid: z.string().min(1).max(128).regex(TOKEN, 'must be printable ASCII without spaces'),
  // RFC 9711 4.2.2: a map, even for one SUEID; each value a UEID (base64url of 7..33 bytes).
  sueids: z
    .record(z.string().min(1).max(64).regex(PRINTABLE, 'label must be printable ASCII'), z.string().refine((s) => decodeUeidText(s) !== null, 'must be a UEID: base64url without padding of 7 to 33 bytes (RFC 9711)'))
    .refine((m) => Object.keys(m).length >= 1 && Object.keys(m).length <= MAX_SUEIDS, `must hold 1 to ${MAX_SUEIDS} labelled UEIDs`)
    .optional(),
  iat: z.int().min(0),
  fw: z.strictObject({
    productId: z.string().min(1).max(128).regex(TOKEN, 'must be printable ASCII without spaces'),
    version: z.string().min(1).max(64).regex(TOKEN, 'must be printable ASCII without spaces'),
    digest: z.string().refine((s) => normalizeSha256(s) !== null, 'must be SHA-256 hex, optionally prefixed sha256:'),
    securityCounter: z.int().min(0).max(0xffffffff),
  }),
  boot: z.strictObject({
    alg: z.literal('sha256'),
    events: z.array(eventSchema).max(MAX_BOOT_EVENTS).default([]),
    pcrs: z.record(z.string().regex(PCR_KEY, 'PCR index must be 0..23'), hex64).default({}),
    tcgEventLog: base64Bytes(MAX_EVIDENCE_TCG_LOG_BYTES).optional(),
  }),
  ima: z
    .strictObject({
      log: z.string().max(MAX_EVIDENCE_IMA_CHARS),
      offset: z.int().min(0).max(0x7fffffff).default(0),
    })
    .optional(),
  tpm: z
    .strictObject({
      quote: base64Bytes(MAX_TPMS_ATTEST_BYTES),
      signature: base64Bytes(MAX_TPMT_SIGNATURE_BYTES),
    })
    .optional(),
})
  .refine((c) => !c.boot.tcgEventLog || c.tpm, { message: 'a TPM quote (tpm) is required when boot.tcgEventLog is sent', path: ['tpm'] })
  .refine((c) => !c.ima || c.boot.tcgEventLog, { message: 'ima needs boot.tcgEventLog (the boot it belongs to) and a TPM quote', path: ['ima'] });

/**
 * Validates an EAT payload (already authenticated or not: this only checks shapes). Throws
 * DomainError `evidence-claims-invalid` naming every offending field.
 */
export function parseEvidenceClaims(payload: unknown): EvidenceClaims {
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(claims)'}: ${i.message}`);
    throw invalid('evidence-claims-invalid', `evidence claims are invalid: ${issues.slice(0, 5).join('; ')}`, { issues });
  }
  const c = parsed.data;
  const ueidBytes = decodeUeidText(c.ueid);
  const pcrs: PcrValues = {};
  for (const key of Object.keys(c.boot.pcrs).sort((a, b) => Number(a) - Number(b))) pcrs[key] = c.boot.pcrs[key].toLowerCase();
  return {
    eatNonce: c.eat_nonce,
    ueid: c.ueid,
    ...(ueidBytes ? { ueidBytes } : {}),
    ...(c.sueids ? { sueids: Object.fromEntries(Object.entries(c.sueids).map(([k, v]) => [k, decodeUeidText(v)!])) } : {}),
    iat: c.iat,
    fw: { ...c.fw, digest: normalizeSha256(c.fw.digest)! },
    boot: {
      alg: 'sha256',
      events: c.boot.events.map((e) => ({ pcr: e.pcr, component: e.component, digest: e.digest.toLowerCase() })),
      pcrs,
    },
    ...(c.tpm ? { tpm: { quote: Buffer.from(c.tpm.quote, 'base64'), signature: Buffer.from(c.tpm.signature, 'base64') } } : {}),
    ...(c.boot.tcgEventLog ? { tcgEventLog: Buffer.from(c.boot.tcgEventLog, 'base64') } : {}),
    ...(c.ima ? { ima: { log: c.ima.log, offset: c.ima.offset } } : {}),
  };
}

export interface VerifiedEvidencePayload {
  alg: string;
  payload: unknown;
}

/** Checks that `evidence` is a compact JWS we can read, before any key is involved. */
export function assertCompactJws(evidence: unknown): asserts evidence is string {
  if (typeof evidence !== 'string' || evidence.length === 0) throw invalid('evidence-malformed', 'evidence must be a compact JWS string');
  if (evidence.length > MAX_EVIDENCE_CHARS) throw new DomainError('evidence-too-large', `evidence is larger than ${MAX_EVIDENCE_CHARS} characters`, 'too-large');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(evidence)) throw invalid('evidence-malformed', 'evidence is not a compact JWS');
  if (!compactJwsHeader(evidence)) throw invalid('evidence-malformed', 'evidence JWS header is not readable');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies the JWS signature with the device's key, on `crypto` (the worker pool) when given,
 * else here. The accepted algorithm comes from the key (P-256 → ES256, P-384 → ES384, Ed25519 →
 * EdDSA, RSA ≥ 2048 → RS256/PS256). Throws DomainError `evidence-signature-invalid` or
 * `evidence-malformed`.
 */
export async function verifyEvidenceSignature(evidence: string, deviceKey: KeyObject, crypto?: JwsCrypto): Promise<VerifiedEvidencePayload> {
  assertCompactJws(evidence);
  return verifyCheckedEvidenceSignature(evidence, deviceKey, crypto);
}

/**
 * verifyEvidenceSignature for evidence its caller has already put through assertCompactJws (the
 * appraisal does, before it looks the device up): the check is not run a second time (a regular
 * expression over the whole JWS and a header decode, about 1 % of the service's main thread).
 */
export async function verifyCheckedEvidenceSignature(evidence: string, deviceKey: KeyObject, crypto?: JwsCrypto): Promise<VerifiedEvidencePayload> {
  const algorithms = jwsAlgorithmsFor(deviceKey);
  if (algorithms.length === 0) throw invalid('device-key-unsupported', 'the device key type is not accepted for evidence');
  const v: JwsVerification = crypto ? await crypto.verify(evidence, deviceKey, algorithms) : verifyCompactJws(evidence, deviceKey, algorithms);
  if (!v.ok) {
    if (v.reason === 'alg-not-allowed') throw invalid('evidence-signature-invalid', `evidence is signed with ${v.alg}, but the device key allows only ${algorithms.join(', ')}`);
    if (v.reason === 'signature') throw invalid('evidence-signature-invalid', 'evidence signature does not verify with the device key');
    throw invalid('evidence-malformed', `evidence JWS is invalid: ${v.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(v.payload));
  } catch {
    throw invalid('evidence-malformed', 'evidence payload is not JSON');
  }
  return { alg: v.alg, payload: json };
}

/** Signature, then claims: the evidence as a device key vouches for it. */
export async function verifyEvidence(evidence: string, deviceKey: KeyObject, crypto?: JwsCrypto): Promise<EvidenceClaims & { alg: string }> {
  const { alg, payload } = await verifyEvidenceSignature(evidence, deviceKey, crypto);
  return { ...parseEvidenceClaims(payload), alg };
}
