/**
 * Lifecycle findings in the 62443 view: what the IEC 62443-4-1 lifecycle knows of a device's
 * ATTESTED running release (advisories exposing it, end of security support or of life, no SBOM)
 * shown against the 62443-4-2 requirements it bears on. The lifecycle lib knows the facts; this
 * lib owns the mapping to requirements. The facts come through the `LIFECYCLE_FACTS` port, which
 * the composition root binds to the lifecycle's reader (apps/fleet-server/src/ports.module.ts), so
 * neither lib imports the other.
 *
 * The mapping (kept small and stated, not guessed per device):
 * - exposed to an advisory with no `not_affected` statement, and past end of security support or
 *   of life → FR3, `<type> 3.10` "Support for updates" (EDR/HDR/NDR; a SAR has no 3.10 in the
 *   catalog, so the finding is on FR3 alone). 62443-4-1 practice 6 (DM, defect management) and
 *   practice 7 (SUM, security update management) are what the manufacturer owes here.
 * - no SBOM for the attested release → FR7, `CR 7.8` "Control system component inventory"
 *   (62443-4-1 practice 6 needs the component list to assess a defect's reach).
 *
 * Findings do not change the SL-C vectors: SL-C is the capability the device is shown to have as
 * configured; a finding says that, on this release, the capability is not being kept up. They
 * stand beside the items, in the score view and in the assessment export.
 */
import type { ComponentType, FrKey } from './catalog';

export const LIFECYCLE_FACTS = Symbol('LIFECYCLE_FACTS');

/** The lifecycle's rating of an advisory's highest CVSS score. */
export type LifecycleSeverity = 'critical' | 'high' | 'medium' | 'low' | 'none' | 'unknown';

/** What the lifecycle knows of one device's attested release. */
export interface DeviceLifecycleFacts {
  deviceId: string;
  /** The advisories that expose the device now (attested release, no `not_affected`). */
  exposures: ReadonlyArray<{ advisoryId: string; trackingId: string; title: string; maxCvss: number | null; severity: LifecycleSeverity; vulnerabilities: readonly string[] }>;
  /** OpenEoX dates of the product (ISO 8601), when set. */
  endOfSecuritySupport: string | null;
  endOfLife: string | null;
  /** Whether the attested release has an SBOM (null: the device has no attested release). */
  sbom: boolean | null;
}

export interface LifecycleFactsPort {
  /** Facts per device id, for devices with the attested release given (one round of queries for any number). */
  factsFor(devices: ReadonlyArray<{ deviceId: string; productId: string; version: string | null }>): Promise<Map<string, DeviceLifecycleFacts>>;
}

export type LifecycleFindingCode = 'lifecycle.exposed' | 'lifecycle.unsupported' | 'lifecycle.end-of-life' | 'lifecycle.sbom-missing';

export interface LifecycleFinding {
  code: LifecycleFindingCode;
  fr: FrKey;
  /** The 62443-4-2 requirement it bears on, when the component type has it. */
  requirement: string | null;
  /** The 62443-4-1 practice the manufacturer answers it with. */
  practice: string;
  severity: LifecycleSeverity | null;
  reason: string;
  /** The advisory's id (exposed), or the date passed (unsupported, end of life). */
  reference: string | null;
}

/**
 * The findings for one device. `requirementIds`: the items the device is scored on (so a finding
 * names a requirement only when the component type has it). `version`: the attested release.
 */
export function lifecycleFindings(
  facts: DeviceLifecycleFacts | undefined,
  input: { componentType: ComponentType; version: string | null; requirementIds: ReadonlySet<string>; now: Date },
): LifecycleFinding[] {
  if (!facts || input.version === null) return [];
  const updates = [`${input.componentType} 3.10`, 'CR 3.10'].find((id) => input.requirementIds.has(id)) ?? null;
  const inventory = input.requirementIds.has('CR 7.8') ? 'CR 7.8' : null;
  const release = `release ${input.version}`;
  const out: LifecycleFinding[] = [];
  for (const e of facts.exposures) {
    const vulns = e.vulnerabilities.length ? ` (${e.vulnerabilities.slice(0, 5).join(', ')}${e.vulnerabilities.length > 5 ? ', …' : ''})` : '';
    out.push({
      code: 'lifecycle.exposed',
      fr: 'FR3',
      requirement: updates,
      practice: '62443-4-1 DM (defect management), SUM (security update management)',
      severity: e.severity,
      reason: `the attested ${release} is affected by advisory ${e.trackingId}${vulns}${e.maxCvss !== null ? `, CVSS ${e.maxCvss}` : ''}, with no not_affected statement`,
      reference: e.advisoryId,
    });
  }
  const passed = (d: string | null) => d !== null && new Date(d).getTime() <= input.now.getTime();
  if (passed(facts.endOfLife)) {
    out.push({
      code: 'lifecycle.end-of-life',
      fr: 'FR3',
      requirement: updates,
      practice: '62443-4-1 SUM (security update management)',
      severity: null,
      reason: `the product reached its end of life on ${facts.endOfLife!.slice(0, 10)}: ${release} gets no updates`,
      reference: facts.endOfLife,
    });
  } else if (passed(facts.endOfSecuritySupport)) {
    out.push({
      code: 'lifecycle.unsupported',
      fr: 'FR3',
      requirement: updates,
      practice: '62443-4-1 SUM (security update management)',
      severity: null,
      reason: `the product passed its end of security support on ${facts.endOfSecuritySupport!.slice(0, 10)}: ${release} gets no security updates`,
      reference: facts.endOfSecuritySupport,
    });
  }
  if (facts.sbom === false) {
    out.push({
      code: 'lifecycle.sbom-missing',
      fr: 'FR7',
      requirement: inventory,
      practice: '62443-4-1 DM (defect management: the component list a defect is assessed against)',
      severity: null,
      reason: `the attested ${release} has no SBOM, so no advisory can be matched against its components`,
      reference: null,
    });
  }
  return out;
}
