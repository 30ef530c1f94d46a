/**
 * Hardening reports a simulated device sends (schema: @fleetguard/hardening, HardeningReport v1).
 *
 * `goodHardeningReport`: a well-run embedded controller (EDR): measured and verified boot, debug
 * ports locked, mutual TLS with PKI, keys in a TPM, audit forwarded, authenticated time, encrypted
 * storage. Realistic rather than perfect: no write-once audit media, no dual approval, no
 * wireless, no mobile code, no island mode.
 *
 * `weakHardeningReport`: the device out of the box: secure boot off, JTAG open, default
 * credentials, telnet and plain HTTP, TLS 1.0/1.1, no audit, no storage encryption, unsigned updates.
 */
import type { HardeningReport } from '@fleetguard/hardening';
import { hardenedReport, withFacts } from './hardening-report.factory';

export interface HardeningReportOptions {
  firmwareVersion?: string;
  /** When the facts were collected; default now. */
  reportedAt?: Date;
}

const timestamp = (d?: Date) => (d ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function goodHardeningReport(options: HardeningReportOptions = {}): HardeningReport {
  // The hardened report less what this controller does not have.
  return withFacts(hardenedReport(), {
    reportedAt: timestamp(options.reportedAt),
    firmwareVersion: options.firmwareVersion,
    'authentication.methods': ['password', 'public-key'],
    'passwordPolicy.maxAgeDays': 180,
    'accounts.local': 4,
    'accounts.mfa': false,
    'authorization.dualApproval': false,
    'sessionLock.timeoutSeconds': 900,
    services: [
      { name: 'https', port: 443, protocol: 'tcp', encrypted: true },
      { name: 'mqtts', port: 8883, protocol: 'tcp', encrypted: true },
      { name: 'ssh', port: 22, protocol: 'tcp', encrypted: true },
      { name: 'opcua', port: 4840, protocol: 'tcp', encrypted: true },
    ],
    wireless: { present: false },
    untrustedNetworkAccess: { supported: false },
    mobileCode: { used: false },
    'auditLogging.writeOnce': false,
    'timeSync.source': 'nts.plant.example',
    malwareProtectionVersion: '3.2.0',
    networkBoundary: undefined,
  });
}

export function weakHardeningReport(options: HardeningReportOptions = {}): HardeningReport {
  return {
    schemaVersion: 1,
    reportedAt: timestamp(options.reportedAt),
    ...(options.firmwareVersion ? { firmwareVersion: options.firmwareVersion } : {}),
    secureBoot: { enabled: false, verified: false },
    debugInterfaces: { jtag: 'enabled', uart: 'enabled', swd: 'enabled', monitored: false },
    physicalPorts: { usb: 'enabled', serialConsole: 'enabled', unusedDisabled: false },
    defaultCredentialsChanged: false,
    authentication: { required: false, methods: ['password'], feedbackObscured: false, loginBanner: false },
    passwordPolicy: { minLength: 4, complexity: false, lockoutAfterFailures: 0, maxAgeDays: 0, appliesToAllUsers: false },
    accounts: { local: 1, unique: false, mfa: false, roleBased: false, manageable: false },
    authorization: { enforced: false, allUsers: false, supervisorOverride: false, dualApproval: false },
    userInterface: { local: true, remote: true },
    sessionLock: { enabled: false },
    remoteSessionTermination: false,
    concurrentSessionLimit: 0,
    services: [
      { name: 'telnet', port: 23, protocol: 'tcp', encrypted: false },
      { name: 'http', port: 80, protocol: 'tcp', encrypted: false },
      { name: 'ftp', port: 21, protocol: 'tcp', encrypted: false },
      { name: 'modbus', port: 502, protocol: 'tcp', encrypted: false },
      { name: 'snmp', port: 161, protocol: 'udp', encrypted: false },
    ],
    tls: { versions: ['1.0', '1.1', '1.2'], mutualAuth: false },
    usesPki: false,
    pki: { chainValidation: false, revocationCheck: false },
    keyStorage: 'software',
    symmetricKeys: { uniquePerDevice: false },
    wireless: { present: true, authenticated: false, uniqueAuthentication: false },
    untrustedNetworkAccess: { supported: true, monitored: false, explicitApproval: false },
    mobileCode: { used: true, restricted: false, authenticityCheck: false },
    auditLogging: { enabled: false },
    timeSync: { enabled: true, authenticated: false, source: 'pool.ntp.org' },
    storageEncryption: { enabled: false },
    dataErasure: { supported: false },
    updateSignatureCheck: false,
    integrityNotification: false,
    tamperDetection: false,
    tamperNotification: false,
    malwareProtection: false,
    securitySelfTest: { supported: false },
    inputValidation: false,
    connectsToProcess: true,
    deterministicOutputs: false,
    secureErrorHandling: false,
    rootsOfTrust: { supplierProvisioned: false, ownerProvisionable: false },
    networkSegmentation: false,
    continuousMonitoring: false,
    dosProtection: { enabled: false, rateLimiting: false },
    resourceLimits: false,
    backupRestore: { backup: false, restore: false },
    securityBaselineApplied: false,
    softwareInventory: false,
  };
}
