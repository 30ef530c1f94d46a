import { applicableItems, loadCatalog } from './catalog';
import { lifecycleFindings, type DeviceLifecycleFacts } from './lifecycle-findings';

const catalog = loadCatalog();
const ids = (t: 'EDR' | 'SAR' | 'HDR' | 'NDR') => new Set(applicableItems(catalog, t).map((i) => i.id));
const now = new Date('2026-06-01T00:00:00Z');
const facts = (over: Partial<DeviceLifecycleFacts> = {}): DeviceLifecycleFacts => ({ deviceId: 'd1', exposures: [], endOfSecuritySupport: null, endOfLife: null, sbom: true, ...over });
const exposure = { advisoryId: 'a1', trackingId: 'ACME-2026-0001', title: 't', maxCvss: 7.5, severity: 'high' as const, vulnerabilities: ['CVE-2026-0001', 'CVE-2026-0002'] };

describe('lifecycle findings in the 62443 view', () => {
  it('the shipped catalog has the requirements the mapping names (EDR/HDR/NDR 3.10, CR 7.8)', () => {
    for (const t of ['EDR', 'HDR', 'NDR'] as const) expect(ids(t).has(`${t} 3.10`)).toBe(true);
    for (const t of ['EDR', 'HDR', 'NDR', 'SAR'] as const) expect(ids(t).has('CR 7.8')).toBe(true);
  });

  it('an exposure is a FR3 finding on <type> 3.10 with the advisory, its vulnerabilities and severity', () => {
    const [f] = lifecycleFindings(facts({ exposures: [exposure] }), { componentType: 'EDR', version: '1.2.0', requirementIds: ids('EDR'), now });
    expect(f).toMatchObject({ code: 'lifecycle.exposed', fr: 'FR3', requirement: 'EDR 3.10', severity: 'high', reference: 'a1' });
    expect(f.reason).toBe('the attested release 1.2.0 is affected by advisory ACME-2026-0001 (CVE-2026-0001, CVE-2026-0002), CVSS 7.5, with no not_affected statement');
    expect(lifecycleFindings(facts({ exposures: [exposure] }), { componentType: 'NDR', version: '1', requirementIds: ids('NDR'), now })[0].requirement).toBe('NDR 3.10');
  });

  it('a software application has no 3.10 in the catalog: the finding stands on FR3 alone', () => {
    const [f] = lifecycleFindings(facts({ exposures: [exposure] }), { componentType: 'SAR', version: '1', requirementIds: ids('SAR'), now });
    expect(f).toMatchObject({ fr: 'FR3', requirement: null });
  });

  it('end of security support passed: unsupported; end of life passed: end-of-life (not both); future dates: nothing', () => {
    const run = (f: Partial<DeviceLifecycleFacts>) => lifecycleFindings(facts(f), { componentType: 'HDR', version: '3.0', requirementIds: ids('HDR'), now }).map((x) => [x.code, x.requirement, x.reference]);
    expect(run({ endOfSecuritySupport: '2026-05-31T00:00:00.000Z', endOfLife: '2027-01-01T00:00:00.000Z' })).toEqual([['lifecycle.unsupported', 'HDR 3.10', '2026-05-31T00:00:00.000Z']]);
    expect(run({ endOfSecuritySupport: '2026-01-01T00:00:00.000Z', endOfLife: '2026-06-01T00:00:00.000Z' })).toEqual([['lifecycle.end-of-life', 'HDR 3.10', '2026-06-01T00:00:00.000Z']]);
    expect(run({ endOfSecuritySupport: '2026-06-02T00:00:00.000Z' })).toEqual([]);
  });

  it('no SBOM for the attested release: a FR7 finding on CR 7.8; no attested release: no findings at all', () => {
    expect(lifecycleFindings(facts({ sbom: false }), { componentType: 'EDR', version: '1', requirementIds: ids('EDR'), now })).toEqual([
      expect.objectContaining({ code: 'lifecycle.sbom-missing', fr: 'FR7', requirement: 'CR 7.8' }),
    ]);
    expect(lifecycleFindings(facts({ sbom: false, exposures: [exposure] }), { componentType: 'EDR', version: null, requirementIds: ids('EDR'), now })).toEqual([]);
    expect(lifecycleFindings(undefined, { componentType: 'EDR', version: '1', requirementIds: ids('EDR'), now })).toEqual([]);
  });
});
