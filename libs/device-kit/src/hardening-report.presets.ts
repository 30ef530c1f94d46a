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
import type { HardeningReport } from '@fleetguard/hardening-core';

export interface HardeningReportOptions {
  firmwareVersion?: string;
  /** When the facts were collected; default now. */
  reportedAt?: Date;
}

const timestamp = (d?: Date) => (d ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function goodHardeningReport(options: HardeningReportOptions = {}): HardeningReport {
  return {
    schemaVersion: 1,
    reportedAt: timestamp(options.reportedAt),
    ...(options.firmwareVersion ? { firmwareVersion: options.firmwareVersion } : {}),
    secureBoot: { enabled: true, verified: true },
    debugInterfaces: { jtag: 'disabled', uart: 'locked', swd: 'absent', monitored: true },
    physicalPorts: { usb: 'disabled', serialConsole: 'locked', unusedDisabled: true },
    defaultCredentialsChanged: true,
    authentication: { required: true, methods: ['password', 'public-key'], feedbackObscured: true, loginBanner: true },
    passwordPolicy: { minLength: 12, complexity: true, lockoutAfterFailures: 5, maxAgeDays: 180, appliesToAllUsers: true, historyCount: 5 },
    accounts: { local: 4, unique: true, mfa: false, roleBased: true, manageable: true },
    authorization: { enforced: true, allUsers: true, supervisorOverride: true, dualApproval: false },
    userInterface: { local: true, remote: true },
    sessionLock: { enabled: true, timeoutSeconds: 900 },
    remoteSessionTermination: true,
    concurrentSessionLimit: 2,
    services: [
      { name: 'https', port: 443, protocol: 'tcp', encrypted: true },
      { name: 'mqtts', port: 8883, protocol: 'tcp', encrypted: true },
      { name: 'ssh', port: 22, protocol: 'tcp', encrypted: true },
      { name: 'opcua', port: 4840, protocol: 'tcp', encrypted: true },
    ],
    tls: { versions: ['1.2', '1.3'], mutualAuth: true },
    usesPki: true,
    pki: { chainValidation: true, revocationCheck: true, proofOfPossession: true, identityMapping: true },
    sessionIntegrity: { uniqueIds: true, invalidatedOnEnd: true },
    keyStorage: 'tpm',
    symmetricKeys: { uniquePerDevice: true },
    wireless: { present: false },
    untrustedNetworkAccess: { supported: false },
    mobileCode: { used: false },
    auditLogging: {
      enabled: true,
      forwarding: true,
      protectedStorage: true,
      timestamps: true,
      readAccess: true,
      capacityWarning: true,
      failureAlert: true,
      writeOnce: false,
      userAttribution: 'all',
    },
    timeSync: { enabled: true, authenticated: true, source: 'nts.plant.example' },
    storageEncryption: { enabled: true, algorithm: 'aes-256-xts' },
    dataErasure: { supported: true, sharedMemory: true, verified: true },
    updateSignatureCheck: true,
    integrityNotification: true,
    tamperDetection: true,
    tamperNotification: true,
    malwareProtection: true,
    malwareProtectionVersion: '3.2.0',
    securitySelfTest: { supported: true, duringOperation: true },
    inputValidation: true,
    connectsToProcess: true,
    deterministicOutputs: true,
    secureErrorHandling: true,
    rootsOfTrust: { supplierProvisioned: true, ownerProvisionable: true },
    networkSegmentation: true,
    continuousMonitoring: true,
    dosProtection: { enabled: true, rateLimiting: true },
    resourceLimits: true,
    backupRestore: { backup: true, restore: true, verified: true },
    securityBaselineApplied: true,
    softwareInventory: true,
  };
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
