import { createScorer, loadCatalog, loadFactRules, type SlVector } from '@fleetguard/hardening';
import { hardenedReport, trustedEvidence, withFacts } from '@fleetguard/device-kit';
import { oscalAssessmentResultsValidator } from '../../../../test/support/oscal-schema';
import { assessmentOscal, OSCAL_VERSION, requirementToken, uuidV5 } from './assessment.oscal';
import { coverage, ZoneAssessor, type AssessmentRow, type Countermeasure } from './zone.assessment';

const catalog = loadCatalog();
const rules = loadFactRules();
const EDR = createScorer(catalog, rules, 'EDR');
const T2 = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 } as SlVector;
const versions = { rulesVersion: rules.version, catalogVersion: catalog.version };
const device = (id: string, patch: Record<string, unknown> = {}) => ({
  deviceId: id,
  scorer: EDR,
  score: EDR({ facts: withFacts(hardenedReport(), patch), ...trustedEvidence() }),
  evidence: { reportId: `3f1c2b9a-0d4e-4b7a-9c1f-2a3b4c5d6e7${id.length}`, attestationResultId: '6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', firmwareRelease: '2.4.1' },
});

type Doc = { 'assessment-results': { results: Array<Record<string, any>>; 'back-matter': { resources: Array<Record<string, any>> }; metadata: Record<string, unknown> } };

function zone(): { doc: Doc; rows: AssessmentRow[] } {
  const cms: Countermeasure[] = [{ id: '0e4f6a2b-1c3d-4e5f-8a9b-0c1d2e3f4a5b', requirement: 'CR 3.14', description: 'sealed enclosures, weekly inspection', recordedAt: '2026-01-01T00:00:00.000Z' }];
  const a = new ZoneAssessor(T2, cms, coverage(catalog, cms));
  const rows = [...a.add(device('a')), ...a.add(device('b', { 'secureBoot.enabled': undefined })), ...a.add(device('c', { 'timeSync.enabled': undefined }))];
  const doc = assessmentOscal({ title: 'Zone Cell 7', subject: 'zone Cell 7', generatedAt: '2026-12-02T03:00:00.000Z', assessment: a.result(), rows, versions }) as Doc;
  return { doc, rows };
}

describe('OSCAL assessment-results export', () => {
  const validate = oscalAssessmentResultsValidator();

  it('a zone of three devices validates against NIST’s OSCAL 1.1.3 assessment-results schema', () => {
    const { doc } = zone();
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(doc['assessment-results'].metadata['oscal-version']).toBe(OSCAL_VERSION);
  });

  it('findings agree with the rows: one per requirement, not-satisfied exactly where a device misses it and no countermeasure covers it', () => {
    const { doc, rows } = zone();
    const [result] = doc['assessment-results'].results;
    const byReq = new Map<string, AssessmentRow[]>();
    for (const r of rows) byReq.set(r.requirement, [...(byReq.get(r.requirement) ?? []), r]);
    expect(result.findings).toHaveLength(byReq.size);
    const obsDevice = new Map<string, string>(result.observations.map((o: any) => [o.uuid, result['local-definitions']['inventory-items'].find((i: any) => i.uuid === o.subjects[0]['subject-uuid']).props[0].value]));
    for (const f of result.findings) {
      const rs = byReq.get(f.title)!;
      const unmet = rs.filter((r) => r.verdict !== 'evidenced' && r.verdict !== 'not-applicable' && !r.countermeasure).map((r) => r.deviceId);
      expect(f.target.status.state).toBe(unmet.length ? 'not-satisfied' : 'satisfied');
      expect((f['related-observations'] ?? []).map((o: any) => obsDevice.get(o['observation-uuid']))).toEqual(unmet);
    }
    // EDR 3.14 is missing on b but the zone's countermeasure for CR 3.14 covers it: satisfied, linked to the resource.
    const edr314 = result.findings.find((f: any) => f.title === 'EDR 3.14');
    expect(edr314.target.status).toEqual({ state: 'satisfied', reason: 'other' });
    const cm = doc['assessment-results']['back-matter'].resources.find((r) => r.description === 'sealed enclosures, weekly inspection')!;
    expect(edr314.links).toEqual([expect.objectContaining({ href: `#${cm.uuid}` })]);
    // c has no time sync: CR 2.11 RE(1) is not met on c only.
    const cr211 = result.findings.find((f: any) => f.title === 'CR 2.11 RE(1)');
    expect(cr211.target.status.state).toBe('not-satisfied');
    expect(result.props).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'sl-t', class: 'fr1', value: '2' })]));
  });

  it('an empty zone is still a valid document; a broken one is refused (the validator can fail)', () => {
    const a = new ZoneAssessor(T2, [], new Map());
    const empty = assessmentOscal({ title: 'Empty', subject: 'zone Empty', generatedAt: '2026-12-02T03:00:00.000Z', assessment: a.result(), rows: [], versions });
    expect(validate(empty)).toBe(true);
    const { doc } = zone();
    doc['assessment-results'].results[0].findings[0].target.status.state = 'passed';
    expect(validate(doc)).toBe(false);
    delete (doc['assessment-results'] as Record<string, unknown>)['import-ap'];
    expect(validate(doc)).toBe(false);
  });

  it('device inventory UUIDs are name-based and stable; requirement ids become OSCAL tokens', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2'); // RFC 9562 appendix A.4
    expect(requirementToken('CR 1.1 RE(2)')).toBe('cr_1.1_re-2');
    expect(requirementToken('EDR 3.14')).toBe('edr_3.14');
  });
});
