/**
 * Test factories for hardening reports (not exported from the lib's index). `hardenedReport()`
 * reports every fact in its good state and every `appliesIf` as holding, so with an affirming
 * attestation every applicable item of every component type is evidenced.
 */
import type { HardeningReport } from '@fleetguard/hardening';

export function hardenedReport(): HardeningReport {
  return {
    schemaVersion: 1,
    reportedAt: '2025-06-01T12:00:00Z',
    firmwareVersion: '2.4.1',
    secureBoot: { enabled: true, verified: true },
    debugInterfaces: { jtag: 'disabled', uart: 'locked', swd: 'absent', monitored: true },
    physicalPorts: { usb: 'disabled', serialConsole: 'locked', unusedDisabled: true },
    defaultCredentialsChanged: true,
    authentication: {
      required: true,
      methods: ['password', 'public-key', 'symmetric-key'],
      feedbackObscured: true,
      loginBanner: true,
    },
    passwordPolicy: { minLength: 12, complexity: true, lockoutAfterFailures: 5, maxAgeDays: 90, appliesToAllUsers: true, historyCount: 5 },
    accounts: { local: 3, unique: true, mfa: true, roleBased: true, manageable: true },
    authorization: { enforced: true, allUsers: true, supervisorOverride: true, dualApproval: true },
    userInterface: { local: true, remote: true },
    sessionLock: { enabled: true, timeoutSeconds: 600 },
    remoteSessionTermination: true,
    concurrentSessionLimit: 2,
    sessionIntegrity: { uniqueIds: true, invalidatedOnEnd: true },
    services: [
      { name: 'https', port: 443, protocol: 'tcp', encrypted: true },
      { name: 'mqtts', port: 8883, protocol: 'tcp', encrypted: true },
      { name: 'ssh', port: 22, protocol: 'tcp', encrypted: true },
    ],
    tls: { versions: ['1.2', '1.3'], mutualAuth: true },
    usesPki: true,
    pki: { chainValidation: true, revocationCheck: true, proofOfPossession: true, identityMapping: true },
    keyStorage: 'tpm',
    symmetricKeys: { uniquePerDevice: true },
    wireless: { present: true, authenticated: true, uniqueAuthentication: true },
    untrustedNetworkAccess: { supported: true, monitored: true, explicitApproval: true },
    mobileCode: { used: true, restricted: true, authenticityCheck: true },
    auditLogging: {
      enabled: true,
      forwarding: true,
      protectedStorage: true,
      timestamps: true,
      readAccess: true,
      capacityWarning: true,
      failureAlert: true,
      writeOnce: true,
      userAttribution: 'all',
    },
    timeSync: { enabled: true, authenticated: true, source: 'nts.example.net' },
    storageEncryption: { enabled: true, algorithm: 'aes-256-xts' },
    dataErasure: { supported: true, sharedMemory: true, verified: true },
    updateSignatureCheck: true,
    integrityNotification: true,
    tamperDetection: true,
    tamperNotification: true,
    malwareProtection: true,
    malwareProtectionVersion: '1.8.0',
    securitySelfTest: { supported: true, duringOperation: true },
    inputValidation: true,
    connectsToProcess: true,
    deterministicOutputs: true,
    secureErrorHandling: true,
    rootsOfTrust: { supplierProvisioned: true, ownerProvisionable: true },
    networkSegmentation: true,
    networkBoundary: {
      zoneBoundary: true,
      filtering: true,
      denyByDefault: true,
      islandMode: true,
      failClose: true,
      personToPersonBlocked: true,
    },
    continuousMonitoring: true,
    dosProtection: { enabled: true, rateLimiting: true },
    resourceLimits: true,
    backupRestore: { backup: true, restore: true, verified: true },
    securityBaselineApplied: true,
    softwareInventory: true,
  };
}

/**
 * A copy of `base` with `patch` merged in by dotted path; a value of `undefined` removes the fact.
 * `withFacts(r, {'secureBoot.enabled': false, inputValidation: undefined})`.
 */
export function withFacts(base: HardeningReport, patch: Record<string, unknown>): HardeningReport {
  const copy = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [path, value] of Object.entries(patch)) {
    const segs = path.split('.');
    let o = copy;
    for (const s of segs.slice(0, -1)) {
      if (typeof o[s] !== 'object' || o[s] === null) o[s] = {};
      o = o[s] as Record<string, unknown>;
    }
    const last = segs[segs.length - 1];
    if (value === undefined) delete o[last];
    else o[last] = value;
  }
  return copy as unknown as HardeningReport;
}

/**
 * What makes `hardenedReport()`'s facts count as evidence: an affirming appraisal that attested its
 * firmware version, and the service having received the report. Spread into a scorer input.
 */
export function trustedEvidence(firmwareVersion = hardenedReport().firmwareVersion): {
  attestation: { status: 'affirming'; firmwareVersion: string | undefined };
  observed: { hardeningReport: true };
} {
  return { attestation: { status: 'affirming', firmwareVersion }, observed: { hardeningReport: true } };
}
