/**
 * The certificate audit (issue 18, SPEC "PKI additions"): findings per device and per issuing CA,
 * from what the database and the broker know. Pure: the service gathers the facts.
 *
 *   device-certificate-expiring   the device's current certificate ends within `withinDays`
 *   device-not-renewed            the device is active but its current certificate has expired
 *   ca-certificate-expiring       an issuing CA (or the root) ends within `caWithinDays`
 *   weak-key                      the device key is below today's policy (RSA under minRsaBits)
 *   key-shared                    one public key on several devices
 *   revoked-but-connected         a live MQTT connection whose certificate or device is revoked
 *   client-id-on-two-connections  a second connection came with a client id already connected
 *   rekey-pending                 an operator required a new key and the device has not renewed yet
 */
export type FindingKind =
  | 'device-certificate-expiring'
  | 'device-not-renewed'
  | 'ca-certificate-expiring'
  | 'weak-key'
  | 'key-shared'
  | 'revoked-but-connected'
  | 'client-id-on-two-connections'
  | 'rekey-pending';

export interface AuditFinding {
  kind: FindingKind;
  severity: 'high' | 'medium' | 'low';
  deviceIds?: string[];
  deviceId?: string;
  serial?: string;
  caGeneration?: number;
  at?: string;
  detail: string;
}

export interface AuditDevice {
  deviceId: string;
  status: 'active' | 'revoked' | string;
  keyType: string;
  /** RSA modulus length, when RSA. */
  rsaBits?: number;
  /** Hex of the DER SubjectPublicKeyInfo. */
  publicKeyHex: string;
  certSerial: string | null;
  certNotAfter: Date | null;
  certStatus: string | null;
  caGeneration: number | null;
  rekeyRequestedAt: Date | null;
}

export interface AuditInput {
  now: Date;
  withinDays: number;
  caWithinDays: number;
  minRsaBits: number;
  devices: readonly AuditDevice[];
  cas: ReadonlyArray<{ generation: number | 'root'; subject: string; notAfter: Date }>;
  /** Live connections: device id and the serial of the certificate it presented. */
  connected: ReadonlyArray<{ deviceId: string; serialHex: string | null; certificateRevoked: boolean }>;
  duplicateClientIds: ReadonlyArray<{ deviceId: string; at: Date; count: number }>;
}

const DAY_MS = 86_400_000;

export function auditCertificates(input: AuditInput): AuditFinding[] {
  const now = input.now.getTime();
  const findings: AuditFinding[] = [];
  const byKey = new Map<string, string[]>();
  const revokedDevices = new Set<string>();
  for (const d of input.devices) {
    if (d.status === 'revoked') revokedDevices.add(d.deviceId);
    if (d.status === 'active') {
      const list = byKey.get(d.publicKeyHex) ?? [];
      list.push(d.deviceId);
      byKey.set(d.publicKeyHex, list);
    }
    if (d.status !== 'active') continue;
    const notAfter = d.certNotAfter?.getTime();
    if (notAfter !== undefined && notAfter <= now) {
      findings.push({ kind: 'device-not-renewed', severity: 'high', deviceId: d.deviceId, serial: d.certSerial ?? undefined, at: d.certNotAfter!.toISOString(), detail: `the certificate expired at ${d.certNotAfter!.toISOString()} and was not renewed` });
    } else if (notAfter !== undefined && notAfter - now <= input.withinDays * DAY_MS) {
      findings.push({ kind: 'device-certificate-expiring', severity: 'medium', deviceId: d.deviceId, serial: d.certSerial ?? undefined, caGeneration: d.caGeneration ?? undefined, at: d.certNotAfter!.toISOString(), detail: `the certificate expires in ${Math.max(0, Math.floor((notAfter - now) / DAY_MS))} day(s)` });
    }
    if (d.keyType === 'RSA' && (d.rsaBits ?? 0) < input.minRsaBits) {
      findings.push({ kind: 'weak-key', severity: 'high', deviceId: d.deviceId, serial: d.certSerial ?? undefined, detail: `RSA-${d.rsaBits ?? '?'} is below the current policy (at least ${input.minRsaBits} bits)` });
    }
    if (d.rekeyRequestedAt) {
      findings.push({ kind: 'rekey-pending', severity: 'medium', deviceId: d.deviceId, serial: d.certSerial ?? undefined, at: d.rekeyRequestedAt.toISOString(), detail: 'a new key was required and the device has not renewed with one yet' });
    }
  }
  for (const [, ids] of byKey) {
    if (ids.length > 1) findings.push({ kind: 'key-shared', severity: 'high', deviceIds: [...ids].sort(), detail: `one public key is certified for ${ids.length} devices` });
  }
  for (const ca of input.cas) {
    const left = ca.notAfter.getTime() - now;
    if (left <= input.caWithinDays * DAY_MS) {
      findings.push({ kind: 'ca-certificate-expiring', severity: left <= 0 ? 'high' : 'medium', caGeneration: ca.generation === 'root' ? undefined : ca.generation, at: ca.notAfter.toISOString(), detail: `${ca.subject} ${left <= 0 ? 'has expired' : `expires in ${Math.floor(left / DAY_MS)} day(s)`}` });
    }
  }
  for (const c of input.connected) {
    if (c.certificateRevoked || revokedDevices.has(c.deviceId)) {
      findings.push({ kind: 'revoked-but-connected', severity: 'high', deviceId: c.deviceId, serial: c.serialHex ?? undefined, detail: 'connected to the broker with a revoked certificate or as a revoked device' });
    }
  }
  for (const dup of input.duplicateClientIds) {
    findings.push({ kind: 'client-id-on-two-connections', severity: 'high', deviceId: dup.deviceId, at: dup.at.toISOString(), detail: `${dup.count} connection(s) came with client id '${dup.deviceId}' while it was connected` });
  }
  return findings;
}
