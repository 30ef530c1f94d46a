/**
 * Observed facts: what the service has seen itself, never what a device says about itself. Rules
 * read them under `observed.<name>` beside the report's facts; a report cannot set them (the
 * scorer fills the `observed` namespace from this object only, and the report schema has no such
 * field).
 *
 * Grades of a scored item (the weakest source its evidence rests on):
 *   attested  proved by an affirming appraisal (the attestation result alone)
 *   observed  seen by the service (these facts), possibly with the attestation
 *   reported  needs a fact from the device's hardening report
 *   declared  the manufacturer's claim (the product's declared requirements)
 */
import type { FactDescriptor } from './hardening-report.schema';
import { hardeningReportShape } from './hardening-report.schema';

export const GRADES = ['attested', 'observed', 'reported', 'declared'] as const;
export type Grade = (typeof GRADES)[number];

export type NegotiatedTlsVersion = '1.0' | '1.1' | '1.2' | '1.3';

export interface ObservedFacts {
  /** The service has received a hardening report from the device (the report itself is `reported`). */
  hardeningReport?: boolean;
  /** The device connected over mutual TLS with a certificate issued by Fleetguard's device CA. */
  mutualTls?: boolean;
  /** The device holds a current (unexpired, unrevoked) certificate issued by Fleetguard's CA. */
  fleetguardCertificate?: boolean;
  /** The device renewed its certificate before it expired (EST simplereenroll / renewal). */
  certificateRenewed?: boolean;
  /** Every TLS version the device was seen to negotiate on the broker and the device listener. */
  tlsVersions?: NegotiatedTlsVersion[];
  /** Every cipher negotiated was an AEAD suite (AES-GCM, AES-CCM, ChaCha20-Poly1305). */
  aeadCiphers?: boolean;
  /** A TPM quote verified with the device's attestation key, so the AK is TPM-resident. */
  tpmResidentKey?: boolean;
  /** Affirming appraisals attested more than one firmware release: the device was updated in the field. */
  firmwareUpdated?: boolean;
}

const OBSERVED_SHAPE: FactDescriptor = {
  kind: 'object',
  fields: new Map<string, FactDescriptor>([
    ['hardeningReport', { kind: 'boolean' }],
    ['mutualTls', { kind: 'boolean' }],
    ['fleetguardCertificate', { kind: 'boolean' }],
    ['certificateRenewed', { kind: 'boolean' }],
    ['tlsVersions', { kind: 'array', items: { kind: 'string', enum: ['1.0', '1.1', '1.2', '1.3'] } }],
    ['aeadCiphers', { kind: 'boolean' }],
    ['tpmResidentKey', { kind: 'boolean' }],
    ['firmwareUpdated', { kind: 'boolean' }],
  ]),
};

export const OBSERVED_NAMESPACE = 'observed';

let shape: FactDescriptor | undefined;
/** What rules may read: the report's facts plus `observed.*`. */
export function scoringFactsShape(): FactDescriptor {
  if (!shape) {
    const report = hardeningReportShape();
    shape = { kind: 'object', fields: new Map([...(report.fields ?? new Map()), [OBSERVED_NAMESPACE, OBSERVED_SHAPE]]) };
  }
  return shape;
}

/** The facts an explanation reads: the report with `observed` set from the service's own facts. */
export function withObserved(facts: object, observed: ObservedFacts | undefined): object {
  return { ...facts, [OBSERVED_NAMESPACE]: observed ?? {} };
}

export const NO_OBSERVED: ObservedFacts = Object.freeze({});

/** Node's `getProtocol()` name (`TLSv1.3`) as a negotiated version; null for anything else. */
export function negotiatedTlsVersion(protocol: string | null | undefined): NegotiatedTlsVersion | null {
  switch (protocol) {
    case 'TLSv1.3':
      return '1.3';
    case 'TLSv1.2':
      return '1.2';
    case 'TLSv1.1':
      return '1.1';
    case 'TLSv1':
      return '1.0';
    default:
      return null;
  }
}
