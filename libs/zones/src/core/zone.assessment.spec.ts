import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { DomainError } from '@fleetguard/common';
import { createScorer, loadCatalog, loadFactRules, parseApplicabilityBody, type SlVector } from '@fleetguard/hardening';
import { hardenedReport, trustedEvidence, withFacts } from '@fleetguard/device-kit';
import { AssessmentCsvWriter, assessmentCsv, csvRecord, CSV_HEADER, deviceCsvLines } from './assessment.export';
import { countermeasureCovers, coverage, parseTargetLevels, ZoneAssessor, type Countermeasure } from './zone.assessment';

const catalog = loadCatalog();
const EDR = createScorer(catalog, loadFactRules(), 'EDR');
const T2 = { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 } as SlVector;
const device = (id: string, patch: Record<string, unknown> = {}) => ({
  deviceId: id,
  scorer: EDR,
  score: EDR({ facts: withFacts(hardenedReport(), patch), ...trustedEvidence() }),
  evidence: { reportId: null, attestationResultId: null, firmwareRelease: '2.4.1' },
});

describe('ZoneAssessor', () => {
  it('an empty zone has no SL-A and is below any target', () => {
    const r = new ZoneAssessor(T2, [], new Map()).result();
    expect(r).toMatchObject({ devices: 0, slA: { FR1: null }, belowTarget: ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] });
  });

  it('SL-A is the lowest device level; a countermeasure for CR 3.14 covers EDR 3.14 for every device', () => {
    const cms: Countermeasure[] = [{ id: 'cm', requirement: 'CR 3.14', description: 'sealed', recordedAt: '2025-01-01T00:00:00Z' }];
    const a = new ZoneAssessor(T2, cms, coverage(catalog, cms));
    a.add(device('a'));
    const rows = a.add(device('b', { 'secureBoot.enabled': undefined }));
    expect(rows.find((r) => r.requirement === 'EDR 3.14')).toMatchObject({ verdict: 'missing', countermeasure: 'cm' });
    const r = a.result();
    expect(r.perFr.FR3).toMatchObject({ slA: 4, slAWithoutCountermeasures: 0, gaps: [] });
    expect(r.countermeasures[0].raised).toEqual([{ fr: 'FR3', devices: ['b'] }]);
  });

  it('without countermeasures the lowest device holds the FR down and its gap is listed', () => {
    const a = new ZoneAssessor(T2, [], new Map());
    a.add(device('a'));
    const b = device('b', { 'timeSync.enabled': undefined });
    a.add(b);
    const r = a.result();
    expect(b.score.evidenced.FR2).toBeLessThan(2);
    expect(r.slA.FR2).toBe(b.score.evidenced.FR2);
    expect(r.perFr.FR2.heldDownBy).toEqual(['b']);
    expect(r.perFr.FR2.gaps.map((g) => g.requirement)).toContain('CR 2.11 RE(1)');
    expect(r.belowTarget).toEqual(['FR2']);
  });

  it('refuses a countermeasure for a requirement not in the catalog', () => {
    expect(() => countermeasureCovers(catalog, 'CR 42')).toThrow(DomainError);
    expect([...countermeasureCovers(catalog, 'CR 3.14')].sort()).toEqual(['CR 3.14', 'EDR 3.14', 'HDR 3.14', 'NDR 3.14']);
  });
});

describe('outside input never crashes the parsers (fuzz)', () => {
  it('parseTargetLevels accepts exactly FR1..FR7 integers 0..4, else a DomainError', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        try {
          const t = parseTargetLevels(v);
          expect(Object.keys(t).sort()).toEqual(['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7']);
        } catch (e) {
          expect(e).toBeInstanceOf(DomainError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a statement of applicability: any JSON is accepted or refused with a DomainError', () => {
    const entry = fc.record({ requirement: fc.oneof(fc.constantFrom('CR 1.14', 'CR 2.2', 'CR 1.1', 'NDR 1.6'), fc.string()), applicable: fc.oneof(fc.boolean(), fc.anything()), justification: fc.oneof(fc.string(), fc.anything()) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(fc.array(entry), fc.jsonValue()), (body) => {
        try {
          EDR.declare([], parseApplicabilityBody(body));
        } catch (e) {
          expect(e).toBeInstanceOf(DomainError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('CSV cells', () => {
  it('escapes cells that a spreadsheet would run as a formula', async () => {
    const row = { ...device('a'), deviceId: '=HYPERLINK("x")' };
    const a = new ZoneAssessor(T2, [], new Map());
    const [first] = a.add(row);
    const csv = assessmentCsv();
    const chunks: Buffer[] = [];
    csv.on('data', (c: Buffer) => chunks.push(c));
    csv.write(csvRecord(first));
    csv.end();
    await new Promise((r) => csv.on('end', r));
    const text = Buffer.concat(chunks).toString();
    expect(text.split('\n')[1].startsWith(`"'=HYPERLINK(""x"")"`)).toBe(true);
    expect(stringify([['plain']])).toBe('plain\n');
  });
});

/** Lifecycle findings as hardening gives them: two on one requirement, one on another, one on none. */
const LIFECYCLE_FINDINGS = [
  { code: 'lifecycle.exposed', requirement: 'CR 1.1' },
  { code: 'lifecycle.unsupported', requirement: 'CR 1.1' },
  { code: 'lifecycle.sbom-missing', requirement: 'CR 2.1' },
  { code: 'lifecycle.other', requirement: null },
];

describe('the fast CSV writer', () => {
  const cms: Countermeasure[] = [{ id: 'cm-1', requirement: 'CR 3.14', description: 'sealed', recordedAt: '2025-01-01T00:00:00Z' }];
  const stringifyRows = async (rows: ReturnType<ZoneAssessor['add']>) => {
    const csv = assessmentCsv();
    const chunks: Buffer[] = [];
    csv.on('data', (c: Buffer) => chunks.push(c));
    for (const r of rows) csv.write(csvRecord(r));
    csv.end();
    await new Promise((r) => csv.on('end', r));
    return Buffer.concat(chunks).toString();
  };

  it('writes the bytes csv-stringify writes, for any device id, firmware and evidence strings (fuzz)', async () => {
    const text = fc.oneof(fc.string(), fc.constantFrom('=1+1', '-2', '@x', '\tx', 'a,b', 'q"r', 'line\nbreak', '\uFF1Dx', ''));
    await fc.assert(
      fc.asyncProperty(text, fc.option(text, { nil: null }), fc.option(text, { nil: null }), fc.boolean(), fc.subarray(LIFECYCLE_FINDINGS), async (id, release, reportId, weak, lifecycleFindings) => {
        const base = device('x', weak ? { 'secureBoot.enabled': undefined, 'timeSync.enabled': undefined } : {});
        const d = { ...base, deviceId: id, evidence: { reportId, attestationResultId: null, firmwareRelease: release }, lifecycleFindings };
        const a = new ZoneAssessor(T2, cms, coverage(catalog, cms));
        const rows = a.add(d);
        const expected = await stringifyRows(rows);
        expect(CSV_HEADER + deviceCsvLines(d, d.score.table(), a.coverOf(d.scorer))).toBe(expected);
        const w = new AssessmentCsvWriter();
        w.device(d, d.score.table(), a.coverOf(d.scorer));
        expect(w.take().toString('utf8')).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('the byte writer gives the same text over chunks taken at any size, growing a chunk a device does not fit', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('=1+1', 'a,b', 'q"r', '\uFF1Dx', ''));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(text, fc.option(text, { nil: null }), fc.boolean(), fc.subarray(LIFECYCLE_FINDINGS)), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4096 }),
        (devices, chunkBytes) => {
          const a = new ZoneAssessor(T2, cms, coverage(catalog, cms));
          const w = new AssessmentCsvWriter(chunkBytes);
          const chunks: Buffer[] = [];
          let expected = CSV_HEADER;
          devices.forEach(([id, release, weak, lifecycleFindings]) => {
            const base = device('x', weak ? { 'secureBoot.enabled': undefined } : {});
            const d = { ...base, deviceId: id, evidence: { reportId: null, attestationResultId: 'r-1', firmwareRelease: release }, lifecycleFindings };
            const table = d.score.table();
            a.accumulate(d, table);
            expected += deviceCsvLines(d, table, a.coverOf(d.scorer));
            w.device(d, table, a.coverOf(d.scorer));
            if (w.size >= chunkBytes) chunks.push(w.take());
          });
          chunks.push(w.take());
          expect(w.size).toBe(0);
          expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('SL-A, held-down devices and gaps agree with the rows (a reference computed from them)', () => {
    const a = new ZoneAssessor(T2, cms, coverage(catalog, cms));
    const rows = [
      ['a', {}],
      ['b', { 'secureBoot.enabled': undefined }],
      ['c', { 'timeSync.enabled': undefined, 'accounts.mfa': undefined }],
    ].flatMap(([id, patch]) => a.add(device(id as string, patch as Record<string, unknown>)));
    const r = a.result();
    const unmet = rows.filter((x) => x.verdict !== 'evidenced' && x.verdict !== 'not-applicable' && !x.countermeasure);
    for (const k of ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] as const) {
      const perDevice = ['a', 'b', 'c'].map((id) => Math.min(5, ...unmet.filter((x) => x.deviceId === id && x.fr === k).map((x) => x.sl)) - 1);
      const lowest = Math.min(...perDevice);
      expect(r.slA[k]).toBe(lowest);
      expect(r.perFr[k].heldDownBy).toEqual(lowest < 4 ? ['a', 'b', 'c'].filter((_, i) => perDevice[i] === lowest) : []);
      const gaps = [...new Set(unmet.filter((x) => x.fr === k && x.sl <= 2).map((x) => x.requirement))].sort();
      expect(r.perFr[k].gaps.map((g) => g.requirement).sort()).toEqual(gaps);
    }
  });
});
